"""The queue's indexes on assignments, partial: queued rows in the claim's order, held rows by
holder and by lease. (step_id, holder_id) goes: the unique (step_id, replica) serves the
claim's one-replica-per-person check.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _only(state: str) -> dict:
    where = sa.text(f"state = '{state}'")
    return {"sqlite_where": where, "postgresql_where": where}


def upgrade() -> None:
    for name in (
        "ix_assignments_holder",
        "ix_assignments_lease",
        "ix_assignments_queue",
        "ix_assignments_step_holder",
    ):
        op.drop_index(name, table_name="assignments")
    op.create_index(
        "ix_assignments_queued",
        "assignments",
        [sa.literal_column("priority DESC"), "id"],
        **_only("queued"),
    )
    op.create_index("ix_assignments_held_by", "assignments", ["holder_id"], **_only("held"))
    op.create_index("ix_assignments_held_until", "assignments", ["lease_until"], **_only("held"))


def downgrade() -> None:
    for name in ("ix_assignments_queued", "ix_assignments_held_by", "ix_assignments_held_until"):
        op.drop_index(name, table_name="assignments")
    op.create_index("ix_assignments_holder", "assignments", ["holder_id", "state"])
    op.create_index("ix_assignments_lease", "assignments", ["state", "lease_until"])
    op.create_index(
        "ix_assignments_queue",
        "assignments",
        ["state", sa.literal_column("priority DESC"), "id"],
    )
    op.create_index("ix_assignments_step_holder", "assignments", ["step_id", "holder_id"])
