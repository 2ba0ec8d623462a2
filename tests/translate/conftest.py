"""Generated Argos packages installed into a models folder (tests.support.argosgen)."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.translate import packages


@pytest.fixture(scope="session")
def installed_models(argos_package_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The four tiny packages installed once; tests that change models use ``models_dir``."""
    target = tmp_path_factory.mktemp("installed") / "models"
    packages.install_file(target, argos_package_dir)
    return target


@pytest.fixture
def models_dir(argos_package_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "models"
    packages.install_file(target, argos_package_dir)
    return target
