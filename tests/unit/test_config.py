"""Loading YAML configuration (chantal_adapters.config_yaml): Chantal 1.6 files, includes,
environment expansion, warnings, and errors that name file, line and key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from chantal_adapters.config_yaml import (
    default_base_path,
    load_config,
    locate_config,
    render_config,
    render_config_yaml,
)
from chantal_core.config import config_hash, package_filter
from chantal_core.errors import ConfigError
from chantal_core.filters import IncludeExclude

ANCHORS = Path(__file__).parents[2].parent / "shared" / "anchor-configs"
ANCHOR_FILES = sorted(ANCHORS.rglob("*.yaml")) if ANCHORS.is_dir() else []
needs_anchors = pytest.mark.skipif(not ANCHOR_FILES, reason=f"{ANCHORS} not present")


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def _load(path: Path, **env: str):  # type: ignore[no-untyped-def]
    return load_config(path, env=env, base_path="/srv/chantal")


def _problems(path: Path, **env: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        _load(path, **env)
    return info.value.problems


# --- Chantal 1.6 files -----------------------------------------------------------------


@needs_anchors
@pytest.mark.parametrize("path", ANCHOR_FILES, ids=lambda p: str(p.relative_to(ANCHORS)))
def test_every_anchor_file_loads(path: Path) -> None:
    loaded = _load(path)
    assert loaded.config.repositories
    assert loaded.files[0] == path
    for warning in loaded.warnings:
        assert warning.line is not None and warning.file.is_file()


@needs_anchors
def test_epel9_filter() -> None:
    loaded = _load(ANCHORS / "rpm" / "epel.yaml")
    config = loaded.config
    assert [r.id for r in config.repositories] == ["epel9", "epel8"]
    flt = package_filter(config.repository("epel9"))
    assert flt.architectures == IncludeExclude(include=("x86_64", "noarch"))
    assert flt.exclude_source is True
    assert flt.only_latest_version is True
    assert flt.patterns == IncludeExclude()
    assert loaded.warnings == ()
    # a standalone repository file gets every global default
    assert config.storage.pool_path == "/srv/chantal/pool"
    assert config.database_url() == "sqlite:////srv/chantal/chantal.db"


@needs_anchors
def test_main_config_includes_conf_d() -> None:
    loaded = _load(ANCHORS / "config" / "config.yaml")
    config = loaded.config
    assert [r.id for r in config.repositories] == [
        "centos9-baseos", "rhel9-baseos", "rhel9-appstream"]
    assert loaded.files == (ANCHORS / "config" / "config.yaml",
                            ANCHORS / "config" / "conf.d" / "rhel9.yaml")
    assert config.database.url == "postgresql://chantal:password@localhost/chantal"
    assert config.database.max_overflow == 10
    assert config.storage.published_path == "/var/www/repos"
    assert config.storage.temp_path == "/var/lib/chantal/tmp"
    rhel = config.repository("rhel9-baseos")
    assert rhel.auth is not None and rhel.auth.cert_dir == "/etc/pki/entitlement"
    assert rhel.schedule is not None and rhel.schedule.create_snapshot is True
    schedule = [w for w in loaded.warnings if w.key.endswith("schedule")]
    assert {(w.file.name, w.line) for w in schedule} == {
        ("config.yaml", 48), ("rhel9.yaml", 25), ("rhel9.yaml", 44)}


@needs_anchors
def test_auth_examples() -> None:
    config = _load(ANCHORS / "auth-examples.yaml").config
    assert config.repository("gitlab-packages").http_headers() == {
        "Authorization": "Bearer glpat-xxxxxxxxxxxxxxxxxxxx"}
    custom = config.repository("custom-repo").auth
    assert custom is not None and custom.headers["X-Customer-ID"] == "12345"
    explicit = config.repository("rhel9-appstream").effective_ssl(config)
    assert explicit.client_key == "/etc/pki/entitlement/8504956652370847584-key.pem"
    corporate = config.repository("corporate-repo").effective_proxy(config)
    assert corporate is not None and corporate.username == "proxy-user"
    nginx = config.repository("nginx-stable").effective_proxy(config)
    assert nginx is not None and nginx.username == "global-proxy-user"


@needs_anchors
def test_filter_and_apt_examples() -> None:
    config = _load(ANCHORS / "filter-examples.yaml").config
    generic = package_filter(config.repository("example-generic"))
    assert (generic.size_min, generic.size_max) == (1024, 104857600)
    assert generic.build_time_newer_than == 1704067200.0
    deb = package_filter(config.repository("example-deb"))
    assert deb.components == IncludeExclude(include=("main", "contrib"), exclude=("non-free",))
    prod = package_filter(config.repository("rhel9-production"))
    assert prod.build_time_last_n_days == 90
    assert prod.groups.exclude == ("Development/Libraries", "Development/Tools")
    apt = _load(ANCHORS / "apt" / "gitlab.yaml").config.repository("gitlab-ce-ubuntu-jammy")
    assert apt.apt is not None and apt.apt.suites() == ("jammy",)
    assert (apt.retention.policy, apt.retention.keep_count) == ("keep-last-n", 3)
    verified = _load(ANCHORS / "apt" / "verified.yaml").config.repository("ubuntu-jammy")
    assert verified.verify is not None and verified.verify.on_invalid_signature == "fail"
    assert verified.verify.key_files == ("/usr/share/keyrings/ubuntu-archive-keyring.gpg",)


@needs_anchors
def test_dnf_variables_in_feeds_are_not_expanded() -> None:
    repo = _load(ANCHORS / "rpm" / "hashicorp.yaml").config.repository("hashicorp-rhel")
    assert repo.feed == "https://rpm.releases.hashicorp.com/RHEL/$releasever/$basearch/stable"


# --- includes ---------------------------------------------------------------------------


def test_recursive_includes_are_relative_to_the_including_file(tmp_path: Path) -> None:
    main = _write(tmp_path / "config.yaml", """
        include: ["conf.d/*.yaml", "*.yaml"]
        repositories:
          - {id: main, type: rpm, feed: "https://m/"}
        """)
    _write(tmp_path / "conf.d" / "b.yaml", """
        include: ../more/extra.yml
        repositories:
          - {id: b, type: rpm, feed: "https://m/b"}
        """)
    _write(tmp_path / "conf.d" / "a.yaml", """
        repositories:
          - {id: a, type: rpm, feed: "https://m/a"}
        views:
          - {name: v, repos: [a, b]}
        """)
    _write(tmp_path / "more" / "extra.yml", """
        storage: {base_path: /elsewhere}
        repositories:
          - {id: extra, type: rpm, feed: "https://m/e"}
        """)
    _write(tmp_path / "conf.d" / "notes.txt", "not yaml\n")
    loaded = _load(main)
    assert [r.id for r in loaded.config.repositories] == ["main", "a", "b", "extra"]
    assert [v.name for v in loaded.config.views] == ["v"]
    assert loaded.config.storage.base_path == "/srv/chantal"
    ignored = [w for w in loaded.warnings if w.key == "storage"]
    assert ignored and ignored[0].file.name == "extra.yml" and ignored[0].line == 1


def test_include_cycle_is_an_error(tmp_path: Path) -> None:
    _write(tmp_path / "a.yaml", "include: b.yaml\nrepositories: []\n")
    _write(tmp_path / "b.yaml", "repositories: []\ninclude: [a.yaml]\n")
    (problem,) = _problems(tmp_path / "a.yaml")
    assert problem.startswith(f"{tmp_path / 'b.yaml'}:2: include[0]: include cycle: ")
    assert problem.endswith("a.yaml -> " + str(tmp_path / "b.yaml") + " -> "
                            + str(tmp_path / "a.yaml"))


def test_missing_include_is_an_error(tmp_path: Path) -> None:
    main = _write(tmp_path / "c.yaml", "repositories: []\ninclude: nope.yaml\n")
    (problem,) = _problems(main)
    assert problem.startswith(f"{main}:2: include: included file ")


# --- environment ---------------------------------------------------------------------------


def test_environment_expansion(tmp_path: Path) -> None:
    main = _write(tmp_path / "c.yaml", """
        database:
          url: ${DB_URL}
          pool_size: ${POOL:-7}
          echo: ${ECHO:-false}
        repositories:
          - id: r
            type: rpm
            feed: "${MIRROR:-https://fallback.test}/r/$basearch/$${literal}"
            auth: {type: bearer, token: "${TOKEN-unset}"}
        """)
    config = _load(main, DB_URL="sqlite:///x.db", MIRROR="", TOKEN="").config
    assert config.database.url == "sqlite:///x.db"
    assert (config.database.pool_size, config.database.echo) == (7, False)
    repo = config.repository("r")
    assert repo.feed == "https://fallback.test/r/$basearch/${literal}"
    assert repo.auth is not None and repo.auth.token == ""


def test_unset_variable_names_file_line_and_key(tmp_path: Path) -> None:
    main = _write(tmp_path / "c.yaml", """
        repositories:
          - id: r
            type: rpm
            feed: ${MIRROR}/r
        """)
    (problem,) = _problems(main)
    assert problem.startswith(f"{main}:4: repositories[0].feed: environment variable MIRROR ")


def test_malformed_variable_references(tmp_path: Path) -> None:
    main = _write(tmp_path / "c.yaml", """
        repositories:
          - id: r
            type: rpm
            feed: https://m/${1BAD}
            name: ${OPEN
        """)
    assert _problems(main) == [
        f"{main}:4: repositories[0].feed: invalid variable reference ${{1BAD}}",
        f"{main}:5: repositories[0].name: unterminated ${{ in value",
    ]


# --- errors ---------------------------------------------------------------------------------


def test_yaml_syntax_error(tmp_path: Path) -> None:
    main = _write(tmp_path / "c.yaml", "repositories:\n  - id: x\n    type: rpm\n   feed: y\n")
    (problem,) = _problems(main)
    assert problem.startswith(f"{main}:4:4: YAML syntax error")


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    main = _write(tmp_path / "c.yaml", "database: {}\ndatabase: {}\n")
    (problem,) = _problems(main)
    assert problem.startswith(f"{main}:2:1: YAML syntax error") and "duplicate key" in problem


def test_unknown_key_suggests_the_closest(tmp_path: Path) -> None:
    main = _write(tmp_path / "c.yaml", """
        databse: {url: "sqlite:///x"}
        repositories:
          - id: r
            type: rpm
            feed: https://m/
            filters:
              patterns:
                exclde: [x]
        """)
    assert _problems(main) == [
        f"{main}:1: databse: unknown key 'databse'; did you mean 'database'?",
        f"{main}:8: repositories[0].filters.patterns.exclde: unknown key 'exclde'; "
        "did you mean 'exclude'?",
    ]


def test_wrong_types(tmp_path: Path) -> None:
    main = _write(tmp_path / "c.yaml", """
        download:
          parallel: many
        repositories:
          - id: r
            type: rpm
            feed: https://m/
            enabled: maybe
            mode: filterd
            tags: production
            apt: []
          - type: rpm
            feed: https://m/
        """)
    assert _problems(main) == [
        f"{main}:7: repositories[0].enabled: expected a boolean (true/false), got the string "
        "'maybe'",
        f"{main}:8: repositories[0].mode: expected one of 'mirror', 'filtered', 'hosted', got "
        "the string 'filterd'; did you mean 'filtered'?",
        f"{main}:9: repositories[0].tags: expected a list of strings, got the string "
        "'production'",
        f"{main}:10: repositories[0].apt: expected a mapping, got a list",
        f"{main}:11: repositories[1].id: required key 'id' is missing",
        f"{main}:2: download.parallel: expected an integer, got the string 'many'",
    ]


def test_numbers_are_not_strings(tmp_path: Path) -> None:
    main = _write(tmp_path / "c.yaml", """
        gpg: {key_id: 12345678}
        """)
    (problem,) = _problems(main)
    assert problem == (f"{main}:1: gpg.key_id: expected a string, got the integer 12345678 "
                       "(quote it in YAML)")


def test_invalid_regex(tmp_path: Path) -> None:
    main = _write(tmp_path / "c.yaml", """
        repositories:
          - id: r
            type: rpm
            feed: https://m/
            filters:
              patterns:
                include:
                  - "^ok$"
                  - "(unclosed"
        """)
    (problem,) = _problems(main)
    assert problem.startswith(f"{main}:9: repositories[0].filters.patterns.include[1]: "
                              "invalid regular expression '(unclosed'")
    assert problem.endswith("(repository 'r')")


def test_duplicate_repository_id_names_both_places(tmp_path: Path) -> None:
    main = _write(tmp_path / "config.yaml", """
        repositories:
          - id: other
            type: rpm
            feed: https://m/o
          - id: epel9
            type: rpm
            feed: https://m/e
        include: conf.d/*.yaml
        """)
    extra = _write(tmp_path / "conf.d" / "epel.yaml", """
        repositories:
          - id: epel9
            type: rpm
            feed: https://m/e2
        """)
    (problem,) = _problems(main)
    assert problem == (f"{extra}:2: repositories[0].id: duplicate repository id 'epel9'; "
                       f"also defined at {main}:5")


def test_views_unknown_repository_and_mixed_types(tmp_path: Path) -> None:
    main = _write(tmp_path / "config.yaml", """
        repositories:
          - {id: el9, type: rpm, feed: "https://m/"}
          - {id: jammy, type: apt, feed: "https://m/", apt: {distribution: jammy}}
        views:
          - name: broken
            repos:
              - el9
              - el8
          - name: mixed
            repos: [el9, jammy]
        """)
    assert _problems(main) == [
        f"{main}:8: views[0].repos[1]: view 'broken' names unknown repository 'el8'; "
        "did you mean 'el9'?",
        f"{main}:10: views[1].repos: view 'mixed' mixes repository types: el9 (rpm), "
        "jammy (apt); a view holds one type",
    ]


def test_all_problems_are_reported_together(tmp_path: Path) -> None:
    main = _write(tmp_path / "config.yaml", """
        repositories:
          - {id: a, type: rpm, feed: "https://m/", mode: mirror,
             filters: {patterns: {include: [x]}}}
          - {id: b, type: rpm, feed: "https://m/", retention: {policy: keep-last-n}}
        """)
    problems = _problems(main)
    assert len(problems) == 2
    assert all(p.startswith(str(main)) for p in problems)


# --- values ----------------------------------------------------------------------------------


def test_null_means_unset(tmp_path: Path) -> None:
    main = _write(tmp_path / "c.yaml", """
        storage:
          base_path: /data
          pool_path:
        repositories:
          - id: r
            type: rpm
            feed: https://m/
            filters:
              patterns:
                include:
            retention:
        """)
    config = _load(main).config
    assert config.storage.pool_path == "/data/pool"
    assert config.repository("r").filters.patterns.include == ()


def test_empty_file_is_a_default_configuration(tmp_path: Path) -> None:
    config = _load(_write(tmp_path / "c.yaml", "# nothing\n")).config
    assert config.repositories == () and config.download.parallel == 4


def test_legacy_filter_keys_warn(tmp_path: Path) -> None:
    main = _write(tmp_path / "c.yaml", """
        repositories:
          - id: r
            type: rpm
            feed: https://m/
            filters:
              include_packages: ["^nginx"]
        """)
    loaded = _load(main)
    assert package_filter(loaded.config.repository("r")).patterns.include == ("^nginx",)
    (warning,) = loaded.warnings
    assert str(warning) == (f"{main}:6: repositories[0].filters.include_packages: deprecated "
                            "(Chantal 1.6 legacy key): use filters.patterns.include "
                            "(repository 'r')")


def test_config_hash_of_loaded_repository_is_reproducible(tmp_path: Path) -> None:
    text = """
        repositories:
          - {id: r, type: rpm, feed: "https://m/", filters: {patterns: {include: ["^a"]}}}
        """
    one = _load(_write(tmp_path / "1.yaml", text)).config
    two = _load(_write(tmp_path / "2.yaml", text)).config
    assert config_hash(one.repository("r"), one) == config_hash(two.repository("r"), two)


# --- lookup ------------------------------------------------------------------------------------


def test_locate_config_order(tmp_path: Path) -> None:
    explicit = _write(tmp_path / "explicit.yaml", "")
    from_env = _write(tmp_path / "env.yaml", "")
    default = _write(tmp_path / "default.yaml", "")
    missing = tmp_path / "missing.yaml"
    env = {"CHANTAL_CONFIG": str(from_env)}
    assert locate_config(str(explicit), env, candidates=[default]) == explicit
    assert locate_config(None, env, candidates=[default]) == from_env
    assert locate_config(None, {}, candidates=[missing, default]) == default
    with pytest.raises(ConfigError, match="--config"):
        locate_config(str(missing), env)
    with pytest.raises(ConfigError, match="CHANTAL_CONFIG"):
        locate_config(None, {"CHANTAL_CONFIG": str(missing)})
    with pytest.raises(ConfigError, match="searched: " + str(missing)):
        locate_config(None, {}, candidates=[missing])


def test_default_config_paths_follow_1_6() -> None:
    from chantal_adapters.config_yaml import default_config_paths

    assert default_config_paths({"HOME": "/home/u"}) == (
        Path("/etc/chantal/config.yaml"), Path("/home/u/.config/chantal/config.yaml"),
        Path("config.yaml"))


def test_default_base_path() -> None:
    assert default_base_path({"HOME": "/home/u"}, uid=0) == "/var/lib/chantal"
    assert default_base_path({"HOME": "/home/u"}, uid=1000) == "/home/u/.local/share/chantal"
    assert default_base_path({"XDG_DATA_HOME": "/x"}, uid=1000) == "/x/chantal"


# --- rendering ------------------------------------------------------------------------------------


def test_render_masks_secrets(tmp_path: Path) -> None:
    main = _write(tmp_path / "c.yaml", """
        database: {url: "postgresql://chantal:dbsecret@db.test/chantal"}
        proxy: {http_proxy: "http://pu:proxysecret@proxy.test:3128", password: pwsecret}
        gpg: {key_id: ABCD1234EF567890, passphrase: gpgsecret}
        repositories:
          - id: r
            type: rpm
            feed: https://m/
            auth: {type: basic, username: user, password: basicsecret}
          - id: c
            type: rpm
            feed: https://m/
            auth: {type: custom, headers: {X-API-Key: headersecret}}
        """)
    config = _load(main).config
    text = render_config_yaml(config)
    for secret in ("dbsecret", "proxysecret", "pwsecret", "gpgsecret", "basicsecret",
                   "headersecret"):
        assert secret not in text
    data = render_config(config)
    assert data["database"]["url"] == "postgresql://chantal:***@db.test/chantal"
    assert data["proxy"]["http_proxy"] == "http://pu:***@proxy.test:3128"
    assert data["repositories"][0]["auth"] == {"type": "basic", "username": "user",
                                               "password": "***", "verify_ssl": True}
    assert data["repositories"][1]["auth"]["headers"] == {"X-API-Key": "***"}
    assert data["storage"]["pool_path"] == "/srv/chantal/pool"
