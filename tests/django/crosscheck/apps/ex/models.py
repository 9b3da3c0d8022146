"""Django models equivalent to the ports' ``ex`` app, for the cross-check."""

from django.db import models


class Employee(models.Model):
    firstname = models.CharField(max_length=50)
    lastname = models.CharField(max_length=50)
    salary = models.IntegerField(blank=True, null=True)
    manager = models.ForeignKey("self", models.CASCADE, null=True)


class Company(models.Model):
    name = models.CharField(max_length=100)
    num_employees = models.PositiveIntegerField()
    num_chairs = models.PositiveIntegerField()
    ceo = models.ForeignKey(Employee, models.CASCADE, related_name="company_ceo_set")
    point_of_contact = models.ForeignKey(
        Employee, models.SET_NULL, related_name="company_point_of_contact_set", null=True
    )
    based_in_eu = models.BooleanField(default=False)


class Number(models.Model):
    integer = models.BigIntegerField(db_column="the_integer")
    float = models.FloatField(null=True, db_column="the_float")
    decimal_value = models.DecimalField(max_digits=20, decimal_places=17, null=True)
