"""``FEDHUB_*_FILE`` secrets: the hub reads its secret key and database URL from files."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config import SECRET_FILE_FIELDS, Settings

KEY = "k" * 40


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("SECRET_KEY", "DATABASE_URL", "SECRET_KEY_FILE", "DATABASE_URL_FILE",
                 "ENVIRONMENT"):
        monkeypatch.delenv(f"FEDHUB_{name}", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env file
    monkeypatch.setenv("FEDHUB_DATA_DIR", str(tmp_path / "data"))


def _secret(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_secret_key_and_database_url_come_from_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "postgresql+psycopg://fedhub:s3cr%40t@db:5432/fedhub"
    monkeypatch.setenv("FEDHUB_ENVIRONMENT", "production")
    monkeypatch.setenv("FEDHUB_SECRET_KEY_FILE", str(_secret(tmp_path, "key", KEY + "\n")))
    monkeypatch.setenv("FEDHUB_DATABASE_URL_FILE", str(_secret(tmp_path, "url", url + "\n")))
    settings = Settings()
    assert settings.secret_key == KEY  # trailing newline of `echo … > file` stripped
    assert settings.database_url == url
    assert not settings.is_sqlite
    assert KEY not in repr(settings)


def test_production_without_secret_still_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEDHUB_ENVIRONMENT", "production")
    with pytest.raises(ValueError, match="FEDHUB_SECRET_KEY must be set"):
        Settings()


def test_short_secret_from_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEDHUB_SECRET_KEY_FILE", str(_secret(tmp_path, "key", "short")))
    with pytest.raises(ValueError, match="at least 32 characters"):
        Settings()


def test_value_and_file_together_are_ambiguous(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEDHUB_SECRET_KEY", KEY)
    monkeypatch.setenv("FEDHUB_SECRET_KEY_FILE", str(_secret(tmp_path, "key", KEY)))
    with pytest.raises(ValueError, match="FEDHUB_SECRET_KEY or FEDHUB_SECRET_KEY_FILE"):
        Settings()


def test_missing_file_names_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEDHUB_DATABASE_URL_FILE", str(tmp_path / "absent"))
    with pytest.raises(ValueError, match="FEDHUB_DATABASE_URL_FILE: cannot read"):
        Settings()


def test_empty_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEDHUB_SECRET_KEY_FILE", str(_secret(tmp_path, "key", "\n")))
    with pytest.raises(ValueError, match="is empty"):
        Settings()


def test_every_file_field_targets_a_real_field() -> None:
    for file_field, target in SECRET_FILE_FIELDS.items():
        assert file_field in Settings.model_fields
        assert target in Settings.model_fields
        assert file_field == f"{target}_file"


def test_without_files_defaults_are_unchanged(tmp_path: Path) -> None:
    settings = Settings()
    assert settings.database_url == f"sqlite:///{(tmp_path / 'data' / 'fedhub.db').as_posix()}"
    assert len(settings.secret_key) >= 32  # generated development secret
