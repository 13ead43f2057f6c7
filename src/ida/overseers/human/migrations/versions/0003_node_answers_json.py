"""The tree viewer's answers as JSON: a node's answer and its truth are any domain's answer
(an integer token in question answering, words in the text domain).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COLUMNS = (("answer", False), ("truth", True))


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, _ in COLUMNS:
            op.execute(f"ALTER TABLE nodes ALTER COLUMN {name} TYPE JSON USING to_json({name})")
        return
    with op.batch_alter_table("nodes") as batch:  # SQLite: its integers read as JSON numbers
        for name, nullable in COLUMNS:
            batch.alter_column(
                name, type_=sa.JSON(), existing_type=sa.Integer(), existing_nullable=nullable
            )


def downgrade() -> None:  # the trees of domains whose answers are not integers go
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DELETE FROM nodes WHERE json_typeof(answer) <> 'number'")
        op.execute("UPDATE nodes SET truth = NULL WHERE json_typeof(truth) <> 'number'")
        for name, _ in COLUMNS:
            op.execute(
                f"ALTER TABLE nodes ALTER COLUMN {name} TYPE INTEGER USING ({name})::text::integer"
            )
        return
    op.execute("DELETE FROM nodes WHERE typeof(answer) <> 'integer'")
    op.execute("UPDATE nodes SET truth = NULL WHERE typeof(truth) <> 'integer'")
    with op.batch_alter_table("nodes") as batch:
        for name, nullable in COLUMNS:
            batch.alter_column(
                name, type_=sa.Integer(), existing_type=sa.JSON(), existing_nullable=nullable
            )
