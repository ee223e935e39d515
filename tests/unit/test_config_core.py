"""The configuration values and their pure rules (chantal_core.config), without YAML."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import attrs
import pytest

from chantal_core.config import (
    NOT_YET_ACTED_ON,
    AptConfig,
    AuthConfig,
    ChantalConfig,
    DatabaseConfig,
    FilterConfig,
    GpgConfig,
    ListFilter,
    MetadataFilters,
    PostProcessing,
    ProxyConfig,
    RepositoryConfig,
    RetentionConfig,
    RpmFilters,
    ScheduleConfig,
    SizeFilter,
    SSLConfig,
    StorageConfig,
    TimeFilter,
    VerifyConfig,
    ViewConfig,
    check_config,
    config_hash,
    config_warnings,
    fetch_options,
    find_repositories,
    format_key_path,
    package_filter,
    parse_config_time,
    pick_entitlement_cert,
    validate_config,
)
from chantal_core.errors import ChantalError, ConfigError, NotFoundError
from chantal_core.filters import IncludeExclude, PackageFilter

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def _repo(repo_id: str = "r", **kw: object) -> RepositoryConfig:
    kw.setdefault("type", "rpm")
    kw.setdefault("feed", "https://mirror.test/r/")
    return RepositoryConfig(id=repo_id, **kw)  # type: ignore[arg-type]


def _messages(config: ChantalConfig) -> dict[str, str]:
    return {f.key: f.message for f in check_config(config)}


# --- defaults -------------------------------------------------------------------------


def test_storage_paths_derive_from_base_path() -> None:
    storage = StorageConfig(base_path="/srv/chantal", pool_path="/data/pool")
    assert storage.pool_path == "/data/pool"
    assert storage.published_path == "/srv/chantal/published"
    assert storage.temp_path == "/srv/chantal/tmp"
    assert storage.cache_path == "/srv/chantal/cache"


def test_database_url_defaults_to_sqlite_under_base_path() -> None:
    config = ChantalConfig(storage=StorageConfig(base_path="/srv/chantal"))
    assert config.database_url() == "sqlite:////srv/chantal/chantal.db"
    assert ChantalConfig(database=DatabaseConfig(url="postgresql://h/db")).database_url() == (
        "postgresql://h/db")


# --- package_filter ---------------------------------------------------------------------


def test_package_filter_maps_every_section() -> None:
    filters = FilterConfig(
        patterns=ListFilter(include=("^nginx",), exclude=("-debuginfo$",)),
        metadata=MetadataFilters(
            size_bytes=SizeFilter(min=1, max=10),
            build_time=TimeFilter(newer_than="2024-01-01", older_than="2025-01-01",
                                  last_n_days=30),
            architectures=ListFilter(include=("x86_64", "noarch"))),
        rpm=RpmFilters(exclude_source_rpms=True, groups=ListFilter(exclude=("Games",)),
                       licenses=ListFilter(include=("MIT",)),
                       vendors=ListFilter(include=("V",)), epochs=ListFilter(include=("0",))),
        post_processing=PostProcessing(only_latest_n_versions=2),
    )
    flt = package_filter(_repo(filters=filters))
    assert flt == PackageFilter(
        patterns=IncludeExclude(include=("^nginx",), exclude=("-debuginfo$",)),
        architectures=IncludeExclude(include=("x86_64", "noarch")),
        exclude_source=True,
        groups=IncludeExclude(exclude=("Games",)),
        licenses=IncludeExclude(include=("MIT",)),
        vendors=IncludeExclude(include=("V",)),
        epochs=IncludeExclude(include=("0",)),
        size_min=1, size_max=10,
        build_time_newer_than=1704067200.0, build_time_older_than=1735689600.0,
        build_time_last_n_days=30,
        only_latest_n_versions=2,
    )


def test_package_filter_merges_legacy_flat_keys() -> None:
    legacy = FilterConfig(include_packages=("^a",), exclude_architectures=("i686",),
                          patterns=ListFilter(include=("^b",)))
    flt = package_filter(_repo(filters=legacy))
    assert flt.patterns == IncludeExclude(include=("^b", "^a"))
    assert flt.architectures == IncludeExclude(exclude=("i686",))


def test_mirror_mode_takes_everything() -> None:
    assert package_filter(_repo(mode="mirror")) == PackageFilter()


def test_parse_config_time_is_utc() -> None:
    assert parse_config_time("1970-01-02") == 86400.0
    assert parse_config_time("1970-01-01T01:00:00Z") == 3600.0
    assert parse_config_time("1970-01-01T01:00:00+01:00") == 0.0
    with pytest.raises(ConfigError, match="not an ISO 8601 date"):
        parse_config_time("last tuesday")


# --- config_hash ------------------------------------------------------------------------


def test_config_hash_is_stable_and_ignores_what_does_not_change_content() -> None:
    repo = _repo(filters=FilterConfig(patterns=ListFilter(include=("^a",))))
    base = config_hash(repo)
    assert re.fullmatch(r"[0-9a-f]{64}", base)
    assert config_hash(_repo(filters=FilterConfig(patterns=ListFilter(include=("^a",))))) == base
    assert config_hash(attrs.evolve(repo, name="x", enabled=False, tags=("t",),
                                    proxy=ProxyConfig(http_proxy="http://p:3128"),
                                    schedule=ScheduleConfig())) == base
    # the legacy spelling of the same filter hashes the same
    assert config_hash(_repo(filters=FilterConfig(include_packages=("^a",)))) == base


@pytest.mark.parametrize("change", [
    {"feed": "https://mirror.test/other/"},
    {"mode": "mirror", "filters": FilterConfig()},
    {"filters": FilterConfig(patterns=ListFilter(include=("^b",)))},
    {"retention": RetentionConfig(policy="keep-all")},
    {"with_dependencies": True},
    {"verify": VerifyConfig(enabled=True, key_files=("/k",))},
])
def test_config_hash_changes_with_content_relevant_keys(change: dict[str, Any]) -> None:
    repo = _repo(filters=FilterConfig(patterns=ListFilter(include=("^a",))))
    assert config_hash(attrs.evolve(repo, **change)) != config_hash(repo)


def test_config_hash_uses_the_global_verify_fallback() -> None:
    repo = _repo()
    with_verify = ChantalConfig(verify=VerifyConfig(enabled=True, keys=("K",)),
                                repositories=(repo,))
    assert config_hash(repo, with_verify) != config_hash(repo, ChantalConfig(repositories=(repo,)))


# --- selection --------------------------------------------------------------------------


@pytest.fixture
def selection() -> ChantalConfig:
    return ChantalConfig(repositories=(
        _repo("epel9", tags=("el9",)),
        _repo("epel8", enabled=False),
        _repo("jammy", type="apt", apt=AptConfig(distribution="jammy"), tags=("el9",)),
        _repo("rocky9"),
    ))


def _ids(repos: tuple[RepositoryConfig, ...]) -> list[str]:
    return [r.id for r in repos]


def test_find_repositories_selectors(selection: ChantalConfig) -> None:
    assert _ids(find_repositories(selection, repo_id="epel8")) == ["epel8"]
    assert _ids(find_repositories(selection, all=True)) == ["epel9", "jammy", "rocky9"]
    assert _ids(find_repositories(selection, pattern="epel*")) == ["epel9"]
    assert _ids(find_repositories(selection, pattern="*9")) == ["epel9", "rocky9"]
    assert _ids(find_repositories(selection, all=True, type="apt")) == ["jammy"]
    assert _ids(find_repositories(selection, type="rpm")) == ["epel9", "rocky9"]
    assert _ids(find_repositories(selection, tag="el9")) == ["epel9", "jammy"]
    assert find_repositories(selection, pattern="nothing*") == ()


def test_find_repositories_errors(selection: ChantalConfig) -> None:
    with pytest.raises(NotFoundError, match="did you mean 'epel9'"):
        find_repositories(selection, repo_id="epel")
    with pytest.raises(ChantalError, match="no repositories selected"):
        find_repositories(selection)


# --- effective sections -------------------------------------------------------------------


def test_repository_sections_replace_global_ones() -> None:
    global_proxy = ProxyConfig(http_proxy="http://global:3128")
    own = ProxyConfig(http_proxy=None)
    config = ChantalConfig(proxy=global_proxy, gpg=GpgConfig(key_id="ABCD"))
    assert _repo().effective_proxy(config) == global_proxy
    assert _repo(proxy=own).effective_proxy(config) == own
    assert _repo().effective_gpg(config) == GpgConfig(key_id="ABCD")
    assert _repo(gpg=GpgConfig(enabled=False)).effective_gpg(config) is None


def test_effective_ssl_is_completed_from_auth() -> None:
    config = ChantalConfig(ssl=SSLConfig(ca_bundle="/ca.pem"))
    repo = _repo(auth=AuthConfig(type="client_cert", cert_file="/c.pem", key_file="/k.pem",
                                 verify_ssl=False))
    assert repo.effective_ssl(config) == SSLConfig(ca_bundle="/ca.pem", verify=False,
                                                   client_cert="/c.pem", client_key="/k.pem")
    assert _repo().effective_ssl(ChantalConfig()) == SSLConfig()


def test_effective_gpgcheck() -> None:
    verify = VerifyConfig(enabled=True, keys=("K",))
    assert _repo().effective_gpgcheck(ChantalConfig(verify=verify)) is True
    assert _repo(gpgcheck=False).effective_gpgcheck(ChantalConfig(verify=verify)) is False
    assert _repo().effective_gpgcheck(ChantalConfig()) is False


def test_proxy_url_for_honours_scheme_no_proxy_and_credentials() -> None:
    proxy = ProxyConfig(http_proxy="http://proxy:3128", https_proxy="http://sproxy:3128",
                        no_proxy="localhost, .internal,10.0.0.0/8", username="u@x",
                        password="p:w")
    assert proxy.url_for("https://mirror.test/a") == "http://u%40x:p%3Aw@sproxy:3128"
    assert proxy.url_for("http://mirror.test/a") == "http://u%40x:p%3Aw@proxy:3128"
    assert proxy.url_for("http://repo.internal/a") is None
    assert proxy.url_for("http://internal/a") is None
    assert proxy.url_for("http://10.1.2.3:8080/a") is None
    assert proxy.url_for("http://localhost/a") is None
    assert proxy.url_for("file:///srv/repo") is None
    assert ProxyConfig(http_proxy="http://p:1").url_for("https://x/") is None


def test_auth_headers() -> None:
    # RFC 7617 section 2 example
    basic = AuthConfig(type="basic", username="Aladdin", password="open sesame")
    assert basic.http_headers() == {"Authorization": "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="}
    assert AuthConfig(type="bearer", token="t").http_headers() == {"Authorization": "Bearer t"}
    custom = AuthConfig(type="custom", headers={"X-Key": "v"})
    assert custom.http_headers() == {"X-Key": "v"}
    assert AuthConfig(type="client_cert", cert_dir="/e").http_headers() == {}


def test_pick_entitlement_cert() -> None:
    names = ["9-key.pem", "9.pem", "1.pem", "README", "2.pem", "2-key.pem"]
    assert pick_entitlement_cert(names) == ("2.pem", "2-key.pem")
    assert pick_entitlement_cert(["1.pem"]) is None


def test_fetch_options() -> None:
    repo = _repo(auth=AuthConfig(type="bearer", token="t"),
                 ssl=SSLConfig(client_cert="/c", client_key="/k"))
    config = ChantalConfig(proxy=ProxyConfig(https_proxy="http://p:3128"), repositories=(repo,))
    opts = fetch_options(repo, config)
    assert (opts.proxy, opts.client_cert, opts.client_key) == ("http://p:3128", "/c", "/k")
    assert opts.timeout == 60.0 and opts.retries == 3
    assert dict(opts.headers) == {"Authorization": "Bearer t"}
    entitled = _repo(auth=AuthConfig(type="client_cert", cert_dir="/e"))
    opts = fetch_options(entitled, ChantalConfig(), client_cert=("/e/1.pem", "/e/1-key.pem"))
    assert (opts.client_cert, opts.client_key) == ("/e/1.pem", "/e/1-key.pem")


def test_feed_source_forms() -> None:
    assert _repo(feed="mirrorlist:https://m/l").feed_source().kind == "mirrorlist"  # type: ignore[union-attr]
    source = _repo(feed=None, metalink="https://m/ml").feed_source()
    assert source is not None and (source.kind, source.url) == ("metalink", "https://m/ml")
    assert _repo(feed=None, mode="hosted").feed_source() is None


# --- check_config ---------------------------------------------------------------------------


def test_valid_config_has_no_findings() -> None:
    config = ChantalConfig(repositories=(_repo("a"), _repo("b")),
                           views=(ViewConfig(name="v", repos=("a", "b")),))
    assert check_config(config) == ()
    assert validate_config(config) is config


def test_check_config_rules() -> None:
    config = ChantalConfig(repositories=(
        _repo("a", filters=FilterConfig(patterns=ListFilter(include=("(",)))),
        _repo("a", mode="mirror", filters=FilterConfig(include_packages=("x",))),
        _repo("bad id", type="rpn"),
        _repo("k", retention=RetentionConfig(policy="keep-last-n")),
        _repo("d", type="apt", apt=AptConfig()),
        _repo("m", type="apt", apt=AptConfig(distribution="x"), feed="metalink:https://m"),
        _repo("v", verify=VerifyConfig(enabled=True), gpg=GpgConfig(),
              auth=AuthConfig(type="basic", username="u")),
    ), views=(ViewConfig(name="mix", repos=("a", "d", "ghost")),))
    found = _messages(config)
    assert "invalid regular expression '('" in found["repositories[0].filters.patterns.include[0]"]
    assert "cannot be used with filters" in found["repositories[1].filters"]
    assert found["repositories[1].id"] == "duplicate repository id 'a'"
    assert "invalid repository id" in found["repositories[2].id"]
    assert "did you mean 'rpm'" in found["repositories[2].type"]
    assert "keep_count" in found["repositories[3].retention.keep_count"]
    assert "distribution" in found["repositories[4].apt.distribution"]
    assert "for rpm repositories" in found["repositories[5].feed"]
    assert "no trusted key" in found["repositories[6].verify"]
    assert "no key is given" in found["repositories[6].gpg"]
    assert "needs password" in found["repositories[6].auth"]
    assert "unknown repository 'ghost'" in found["views[0].repos[2]"]
    assert "mixes repository types" in found["views[0].repos"]
    duplicate = next(f for f in check_config(config) if f.key == "repositories[1].id")
    assert duplicate.related == (("repositories", 0, "id"),)
    with pytest.raises(ConfigError) as info:
        validate_config(config)
    assert len(info.value.problems) == len(check_config(config))


def test_format_key_path() -> None:
    assert format_key_path(("repositories", 2, "filters", "patterns", "include", 0)) == (
        "repositories[2].filters.patterns.include[0]")
    assert format_key_path(()) == "$"


# --- warnings ---------------------------------------------------------------------------------


def test_config_warnings_report_unacted_and_deprecated_keys() -> None:
    config = ChantalConfig(repositories=(
        _repo("s", schedule=ScheduleConfig(), filters=FilterConfig(include_packages=("a",))),
        _repo("h", type="helm"),
        _repo("j", type="apt"),
        _repo("n", retention=RetentionConfig(keep_count=3)),
    ), views=(ViewConfig(name="v", repos=("s",), merge="priority"),))
    found = {f.key: f.message for f in config_warnings(config)}
    assert "no built-in scheduler" in found["repositories[0].schedule"]
    assert "use filters.patterns.include" in found["repositories[0].filters.include_packages"]
    assert "not synced" in found["repositories[1].type"]
    assert "cannot be synced" in found["repositories[2]"]
    assert "no effect" in found["repositories[3].retention.keep_count"]
    assert "views[0].merge" not in found
    assert config_warnings(ChantalConfig(repositories=(_repo(),))) == ()


def _all_config_classes() -> set[type]:
    seen: set[type] = set()
    todo: list[type] = [ChantalConfig]
    while todo:
        cl = todo.pop()
        if cl in seen:
            continue
        seen.add(cl)
        attrs.resolve_types(cl)
        for field in attrs.fields(cl):
            for arg in (field.type, *getattr(field.type, "__args__", ())):
                if isinstance(arg, type) and attrs.has(arg):
                    todo.append(arg)
    return seen


def test_docs_describe_every_key_and_every_unacted_key() -> None:
    """docs/configuration.md names every key of the schema and the NOT_YET_ACTED_ON list."""
    text = DOCS.read_text(encoding="utf-8")
    missing = sorted({f"{cl.__name__}.{field.name}" for cl in _all_config_classes()
                      for field in attrs.fields(cl)
                      if f"`{field.name}`" not in text and f"{field.name}:" not in text
                      and f"`{field.name}," not in text and f" {field.name}`" not in text})
    assert not missing, missing
    section = text.split("## Keys accepted but not acted on", 1)[1].split("\n## ", 1)[0]
    for entry in NOT_YET_ACTED_ON:
        assert f"`{entry.documented_key}`" in section, entry.documented_key
