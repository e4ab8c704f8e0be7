"""The wheel: what it installs, and what the commands say when `supervisor` is supervisord's."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import zipfile
from collections.abc import Iterator

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SUPERVISORD_INIT = "# this is a package\n"  # what supervisord's supervisor/__init__.py holds


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pathlib.Path]:
    out = tmp_path_factory.mktemp("wheel")
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out)]
    subprocess.run([*build, str(ROOT)], check=True, capture_output=True, timeout=120)
    (found,) = out.glob("evse_supervisor-*.whl")
    yield found


@pytest.fixture(scope="module")
def installed(wheel: pathlib.Path, tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    target = tmp_path_factory.mktemp("site")
    install = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target"]
    subprocess.run([*install, str(target), str(wheel)], check=True, capture_output=True, timeout=120)
    return target


def launch(site: pathlib.Path, tool: str, *args: str, cwd: pathlib.Path) -> subprocess.CompletedProcess[str]:
    """Run a console script's entry point with `site` first on the path (the repository not on it)."""
    code = f"import sys, evse_supervisor_launcher as l; sys.argv[1:] = {list(args)!r}; sys.exit(l.{tool}())"
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_the_wheel_installs_no_config_package_and_ships_the_yaml_as_data(wheel: pathlib.Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if n.startswith("config/")]
    assert "supervisor/defaults/station.yaml" in names
    assert "supervisor/defaults/examples/eight-connectors.yaml" in names
    assert "evse_supervisor_launcher.py" in names


def test_the_wheel_holds_every_package_of_the_repository(wheel: pathlib.Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = {
        init.parent.relative_to(ROOT)
        for top in ("supervisor", "actors", "drivers")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert sorted(str(p) for p in packages if f"{p.as_posix()}/__init__.py" not in names) == []


def test_the_installed_wheel_reads_its_embedded_default(
    installed: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    done = launch(installed, "station", "check-config", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "2 connectors" in done.stdout


@pytest.mark.parametrize("tool", ["station", "evsectl"])
def test_supervisord_installed_over_it_gets_one_line_not_a_traceback(
    wheel: pathlib.Path, tool: str, tmp_path: pathlib.Path
) -> None:
    site = tmp_path / "site"
    install = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target"]
    subprocess.run([*install, str(site), str(wheel)], check=True, capture_output=True, timeout=120)
    (site / "supervisor" / "__init__.py").write_text(SUPERVISORD_INIT)  # what pip does when both install
    done = launch(site, tool, "check-config" if tool == "station" else "list", cwd=tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.splitlines()
    assert "another distribution's" in line
    assert "virtual environment" in line and "pipx" in line


def test_a_foreign_supervisor_earlier_on_the_path_is_named(
    installed: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    foreign = tmp_path / "foreign"
    (foreign / "supervisor").mkdir(parents=True)
    (foreign / "supervisor" / "__init__.py").write_text(SUPERVISORD_INIT)
    code = "import sys, evse_supervisor_launcher as l; sys.argv[1:] = ['check-config']; sys.exit(l.station())"
    env = {**os.environ, "PYTHONPATH": f"{foreign}{os.pathsep}{installed}"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    (line,) = done.stderr.splitlines()
    assert str(foreign / "supervisor") in line
