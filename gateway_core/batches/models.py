"""Tortoise models of files and batches.

A batch's input lines become one :class:`BatchLine` row each. A line's result is written in
the same UPDATE that marks it done, and only while the writer still holds the line's lease, so a
line has exactly one result however many workers crash; the output and error files are
assembled from these rows when the batch is finalised. Times are whole epoch seconds, as the
OpenAI objects report them.
"""

from __future__ import annotations

import os
import time

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

#: Line states: waiting for a worker (possibly leased by one) or finished with a result.
PENDING = "pending"
DONE = "done"


def sortable_suffix() -> str:
    """Hex of the creation time then random bits: ids sort in creation order, as listings do."""
    return f"{time.time_ns() // 1000:014x}{os.urandom(5).hex()}"


def _file_id() -> str:
    return f"file-{sortable_suffix()}"


def _batch_id() -> str:
    return f"batch_{sortable_suffix()}"


class BatchFile(Model):
    id = fields.CharField(max_length=64, primary_key=True, default=_file_id)
    #: ``team:<id>`` or ``subject:<subject>``: who may see the file.
    scope = fields.CharField(max_length=128)
    purpose = fields.CharField(max_length=32)
    filename = fields.CharField(max_length=255)
    bytes = fields.BigIntField()
    created_at = fields.BigIntField()

    class Meta:
        table = "gw_batch_file"
        indexes = (Index(fields=("scope", "created_at")),)


class Batch(Model):
    id = fields.CharField(max_length=64, primary_key=True, default=_batch_id)
    scope = fields.CharField(max_length=128)
    #: The owner's identity, rebuilt by the worker for every line.
    subject = fields.CharField(max_length=80)
    team_id = fields.CharField(max_length=40, null=True)
    allowed_models = fields.JSONField(null=True)
    limits = fields.JSONField(null=True)
    endpoint = fields.CharField(max_length=64)
    input_file_id = fields.CharField(max_length=64)
    completion_window = fields.CharField(max_length=16)
    status = fields.CharField(max_length=16)
    metadata = fields.JSONField(null=True)
    errors = fields.JSONField(null=True)
    output_file_id = fields.CharField(max_length=64, null=True)
    error_file_id = fields.CharField(max_length=64, null=True)
    total = fields.IntField(default=0)
    created_at = fields.BigIntField()
    expires_at = fields.BigIntField()
    in_progress_at = fields.BigIntField(null=True)
    finalizing_at = fields.BigIntField(null=True)
    completed_at = fields.BigIntField(null=True)
    failed_at = fields.BigIntField(null=True)
    expired_at = fields.BigIntField(null=True)
    cancelling_at = fields.BigIntField(null=True)
    cancelled_at = fields.BigIntField(null=True)
    #: Finalisation lease: a worker that dies while assembling files is replaced after it.
    lease_owner = fields.CharField(max_length=80, null=True)
    lease_until = fields.FloatField(null=True)

    class Meta:
        table = "gw_batch"
        indexes = (Index(fields=("scope", "created_at")), Index(fields=("status",)))


class BatchLine(Model):
    id = fields.BigIntField(primary_key=True)
    batch_id = fields.CharField(max_length=64)
    line_no = fields.IntField()
    custom_id = fields.CharField(max_length=512)
    body = fields.TextField()
    state = fields.CharField(max_length=16, default=PENDING)
    #: ``ok`` goes to the output file; ``error``, ``expired`` and ``cancelled`` to the error file.
    outcome = fields.CharField(max_length=16, null=True)
    result = fields.TextField(null=True)
    lease_owner = fields.CharField(max_length=80, null=True)
    lease_until = fields.FloatField(null=True)
    attempts = fields.IntField(default=0)

    class Meta:
        table = "gw_batch_line"
        unique_together = (("batch_id", "line_no"),)
        indexes = (Index(fields=("state", "lease_until")),)
