"""Django models equivalent to the ports' ``sm`` app, for the cross-check."""

import uuid

from django.db import models


class BasicArticle(models.Model):
    headline = models.CharField(max_length=100, default="Default headline")
    pub_date = models.DateTimeField()

    class Meta:
        ordering = ("pub_date", "headline")


class PrimaryKeyWithDefault(models.Model):
    uuid = models.UUIDField(primary_key=True, default=uuid.uuid4)


class DataPoint(models.Model):
    name = models.CharField(max_length=20)
    value = models.CharField(max_length=20)
    another_value = models.CharField(max_length=20, blank=True)
    is_active = models.BooleanField(default=True)


class RelatedPoint(models.Model):
    name = models.CharField(max_length=20)
    data = models.ForeignKey(DataPoint, models.CASCADE)


class UpdateA(models.Model):
    x = models.IntegerField(default=10)


class UpdateB(models.Model):
    a = models.ForeignKey(UpdateA, models.CASCADE, related_name="b")
    y = models.IntegerField(default=1)


class R(models.Model):
    is_default = models.BooleanField(default=False)


class A(models.Model):
    name = models.CharField(max_length=30)
    auto = models.ForeignKey(R, models.CASCADE, null=True, related_name="auto_set")
    setnull = models.ForeignKey(R, models.SET_NULL, null=True, related_name="setnull_set")
    protect = models.ForeignKey(R, models.PROTECT, null=True, related_name="protect_set")


class HiddenUser(models.Model):
    r = models.ForeignKey(R, models.CASCADE)


class HiddenUserProfile(models.Model):
    user = models.ForeignKey(HiddenUser, models.CASCADE)


class Avatar(models.Model):
    desc = models.TextField(null=True, default="")


class User(models.Model):
    avatar = models.ForeignKey(Avatar, models.CASCADE, null=True)


class Person(models.Model):
    first_name = models.CharField(max_length=100, unique=True)
    last_name = models.CharField(max_length=100)
    birthday = models.DateField()
    defaults = models.TextField(null=True)


class ManualPrimaryKeyTest(models.Model):
    id = models.IntegerField(primary_key=True)
    data = models.CharField(max_length=100)


class Thing(models.Model):
    name = models.CharField(max_length=255)


class Country(models.Model):
    name = models.CharField(max_length=255, default="")
    iso_two_letter = models.CharField(max_length=2, default="")
    description = models.TextField(default="")


class TwoFields(models.Model):
    f1 = models.IntegerField(unique=True)
    f2 = models.IntegerField(unique=True)
    name = models.CharField(max_length=15, null=True)


class UpsertConflict(models.Model):
    number = models.IntegerField(unique=True)
    rank = models.IntegerField()
    name = models.CharField(max_length=15)


class NoFields(models.Model):
    pass


class NullableFields(models.Model):
    auto_field = models.ForeignKey(NoFields, on_delete=models.CASCADE, null=True)
    integer_field = models.IntegerField(null=True)
    text_field = models.TextField(null=True)


class Restaurant(models.Model):
    name = models.CharField(max_length=255, default="")


class UUIDThing(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    name = models.CharField(max_length=20)


class UUIDChild(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    parent = models.ForeignKey(UUIDThing, models.CASCADE, null=True)
