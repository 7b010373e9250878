"""The fixtures themselves: isolation holds, so every other test can rely on it."""

from sqlalchemy import func, select

from lms_core.models import User


def test_users_made_in_one_test_are_gone_in_the_next_part_1(make, session):
    make.user(email="isolation@test.example")
    assert (
        session.scalar(
            select(func.count()).select_from(User).where(User.email == "isolation@test.example")
        )
        == 1
    )


def test_users_made_in_one_test_are_gone_in_the_next_part_2(session):
    assert (
        session.scalar(
            select(func.count()).select_from(User).where(User.email == "isolation@test.example")
        )
        == 0
    )


def test_cli_commit_is_rolled_back_with_the_test(cli, session):
    result = cli("users", "create", "cli-iso@test.example", "--name", "Iso")
    assert result.exit_code == 0, result.output
    assert (
        session.scalar(
            select(func.count()).select_from(User).where(User.email == "cli-iso@test.example")
        )
        == 1
    )
