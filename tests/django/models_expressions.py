"""Models of Django's ``tests/expressions`` app (Employee, Company, Number).

Reverse query names follow Django's ``related_name`` (``company_ceo_set``,
``company_point_of_contact_set``).
"""

import builtins
from decimal import Decimal
from typing import ClassVar, Optional

import sqlalchemy as sa
from port_base import app_base
from sqlmodel import Field, Relationship

from assistant_models import Manager

Base = app_base("ExpressionsBase")


class Employee(Base, table=True):
    __tablename__ = "expressions_employee"
    id: int | None = Field(default=None, primary_key=True)
    firstname: str = Field(max_length=50)
    lastname: str = Field(max_length=50)
    salary: int | None = None
    manager_id: int | None = Field(default=None, foreign_key="expressions_employee.id")
    company_ceo_set: list["Company"] = Relationship(
        back_populates="ceo", sa_relationship_kwargs={"foreign_keys": "Company.ceo_id"}
    )
    company_point_of_contact_set: list["Company"] = Relationship(
        back_populates="point_of_contact",
        sa_relationship_kwargs={"foreign_keys": "Company.point_of_contact_id"},
    )
    objects: ClassVar[Manager["Employee"]] = Manager()


class Company(Base, table=True):
    __tablename__ = "expressions_company"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    num_employees: int = Field(ge=0)
    num_chairs: int = Field(ge=0)
    ceo_id: int | None = Field(default=None, foreign_key="expressions_employee.id")
    point_of_contact_id: int | None = Field(default=None, foreign_key="expressions_employee.id")
    based_in_eu: bool | None = False
    ceo: Optional["Employee"] = Relationship(
        back_populates="company_ceo_set", sa_relationship_kwargs={"foreign_keys": "Company.ceo_id"}
    )
    point_of_contact: Optional["Employee"] = Relationship(
        back_populates="company_point_of_contact_set",
        sa_relationship_kwargs={"foreign_keys": "Company.point_of_contact_id"},
    )
    objects: ClassVar[Manager["Company"]] = Manager()


class Number(Base, table=True):
    __tablename__ = "expressions_number"
    id: int | None = Field(default=None, primary_key=True)
    integer: int = Field(sa_type=sa.BigInteger)
    float: builtins.float | None = None  # Django names the field after the builtin
    decimal_value: Decimal | None = Field(default=None, max_digits=20, decimal_places=17)
    objects: ClassVar[Manager["Number"]] = Manager()
