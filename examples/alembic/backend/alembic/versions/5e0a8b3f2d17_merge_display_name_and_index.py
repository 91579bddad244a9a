"""merge display_name and orders index

Revision ID: 5e0a8b3f2d17
Revises: 3c9d2e7a41b0, 7b1f0c6d9e22
Create Date: 2024-04-11 08:45:00.412007

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "5e0a8b3f2d17"
down_revision: Union[str, Sequence[str], None] = ("3c9d2e7a41b0", "7b1f0c6d9e22")
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
