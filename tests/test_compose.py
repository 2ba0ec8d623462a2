"""docker-compose.yml stays valid without a Docker engine: every file it mounts or
builds from exists, every named volume and secret is declared, and the configs it
points syncd at load. (The services' programs themselves run in the other tests:
`syncd run` in test_e2e, WordPress + MariaDB through scripts/wordpress/.)"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from syncd.config import load
from syncd.kinds import TABLE

ROOT = Path(__file__).parent.parent


def compose() -> dict:  # type: ignore[type-arg]
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def test_services_mount_existing_files_and_declared_volumes() -> None:
    doc = compose()
    assert {"syncd", "wordpress", "wordpress-db"} <= set(doc["services"])
    replicas = {n for n, svc in doc["services"].items() if "replicas" in svc.get("profiles", [])}
    assert replicas == {"postgres", "libretranslate", "syncd-replica-1", "syncd-replica-2"}
    for name, svc in doc["services"].items():
        for vol in svc.get("volumes", []):
            src = vol.split(":")[0]
            if src.startswith("."):
                assert (ROOT / src).exists(), f"{name}: {src} does not exist"
            else:
                assert src in doc["volumes"], f"{name}: volume {src} not declared"
        for secret in svc.get("secrets", []):
            assert secret in doc["secrets"], f"{name}: secret {secret} not declared"
        for dep in svc.get("depends_on", []):
            assert dep in doc["services"]
    assert all(s["file"].startswith("./secrets/") for s in doc["secrets"].values())


def test_dockerfile_copies_what_exists_and_runs_the_daemon() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    for src in re.findall(r"^COPY (.+) \S+$", text, re.M):
        for part in src.split():
            assert (ROOT / part).exists(), part
    assert 'CMD ["run"]' in text and 'ENTRYPOINT ["syncd"]' in text


def test_the_replicas_profile_shares_one_postgres_and_one_translation_pool() -> None:
    services = compose()["services"]
    one, two = services["syncd-replica-1"], services["syncd-replica-2"]
    assert one == two, "the replicas run alike"
    assert one["environment"]["SYNCD_CONFIG"] == "/app/config/replicas.toml"
    assert one["depends_on"]["postgres"]["condition"] == "service_healthy"
    pg = services["postgres"]
    assert pg["image"].startswith("postgres:15")
    assert pg["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/pg_password"
    cfg = load(ROOT / "config" / "replicas.toml", kinds=TABLE)
    url = cfg.storage.url
    assert url.startswith("postgresql+psycopg://syncd@postgres:5432/")
    assert url.rsplit("/", 1)[1] == pg["environment"]["POSTGRES_DB"]
    assert cfg.storage.password is not None
    assert str(cfg.storage.password.file) == "/run/secrets/pg_password"
    assert cfg.translate.engine.kind == "libretranslate"
    assert cfg.translate.engine.url == "http://libretranslate:5000"
    assert "libretranslate" in services and "drafts" in cfg.city("jinhua").target.options.path.parts
    assert "postgres" in (ROOT / "Dockerfile").read_text(encoding="utf-8")


def test_configs_used_by_compose_load(tmp_path: Path) -> None:
    for cfg in ("syncd.toml", "trial-wordpress.toml", "replicas.toml"):
        c = load(ROOT / "config" / cfg, kinds=TABLE)
        assert {x.id for x in c.cities} == {"dueren", "jinhua"}
    trial = load(ROOT / "config" / "trial-wordpress.toml", kinds=TABLE)
    assert trial.city("jinhua").target.kind == "wordpress"
