"""The Fetcher contract against StaticFetcher and Urllib3Fetcher (loopback HTTP server).

Urllib3Fetcher specifics: retries, error statuses, timeouts, 304, file:// URLs, a proxy
with basic authentication, and HTTPS with a server that requires a client certificate.
"""

from __future__ import annotations

import base64
import contextlib
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from chantal_adapters.http import Urllib3Fetcher, redact_url
from chantal_core.errors import FetchError
from chantal_core.ports import FetchOptions
from chantal_core.testing.fetch import StaticFetcher, StaticResponse
from contract.fetcher_contract import SMALL, FetcherContract, MakeSite, Site
from support.httpserver import Fault, ServerTLS, serve_directory
from support.tls import Pki, make_pki

FAST = FetchOptions(timeout=5, retries=2, backoff=0)


class TestStaticFetcher(FetcherContract):
    @pytest.fixture
    def make_site(self) -> MakeSite:
        @contextlib.contextmanager
        def make(files: Mapping[str, bytes],
                 broken: Mapping[str, tuple[bytes, int]] | None = None) -> Iterator[Site]:
            base = "http://upstream.invalid/repo/"
            served: dict[str, bytes | StaticResponse] = dict(files)
            for path, (body, keep) in (broken or {}).items():
                served[path] = StaticResponse(body=body, break_after=keep)
            fetcher = StaticFetcher.serving(base, served)
            yield Site(base, fetcher, lambda: [u[len(base):] for u in fetcher.urls])

        return make

    def test_configured_exception_is_raised(self) -> None:
        error = FetchError("http://upstream.invalid/x", "connection refused")
        fetcher = StaticFetcher({"http://upstream.invalid/x": error})
        with pytest.raises(FetchError) as info:
            fetcher.get_bytes("http://upstream.invalid/x")
        assert info.value is error
        assert fetcher.count("http://upstream.invalid/x") == 1

    def test_status_responses(self) -> None:
        fetcher = StaticFetcher({
            "http://u.invalid/nm": StaticResponse(status=304),
            "http://u.invalid/err": StaticResponse(status=503),
        })
        with fetcher.open("http://u.invalid/nm", headers={"If-None-Match": '"x"'}) as resp:
            assert resp.status == 304
        assert fetcher.requests[0].headers == {"If-None-Match": '"x"'}
        with pytest.raises(FetchError) as info:
            fetcher.open("http://u.invalid/err")
        assert info.value.status == 503


def _write_files(root: Path, files: Mapping[str, bytes]) -> None:
    for rel, data in files.items():
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, made once."""
    return make_pki(tmp_path_factory.mktemp("pki"))


class TestUrllib3Fetcher(FetcherContract):
    @pytest.fixture
    def make_site(self, tmp_path: Path) -> MakeSite:
        @contextlib.contextmanager
        def make(files: Mapping[str, bytes],
                 broken: Mapping[str, tuple[bytes, int]] | None = None) -> Iterator[Site]:
            root = tmp_path / "site"
            root.mkdir(exist_ok=True)
            _write_files(root, files)
            faults = {path: Fault.truncated(keep, body=body)
                      for path, (body, keep) in (broken or {}).items()}
            with serve_directory(root, faults=faults) as base, Urllib3Fetcher(FAST) as fetcher:
                yield Site(str(base), fetcher, lambda: list(base.requests))

        return make

    @pytest.fixture
    def site_root(self, tmp_path: Path) -> Path:
        root = tmp_path / "root"
        _write_files(root, {"repodata/repomd.xml": SMALL, "Packages/a.rpm": b"A" * 3000})
        return root

    # -- retries and error statuses ---------------------------------------------------
    def test_transient_500_is_retried(self, site_root: Path) -> None:
        faults = {"repodata/repomd.xml": Fault.flaky(500, times=1)}
        with serve_directory(site_root, faults=faults) as base:
            data = Urllib3Fetcher(FAST).get_bytes(base.url("repodata/repomd.xml"))
        assert data == SMALL
        assert base.count("repodata/repomd.xml") == 2

    @pytest.mark.parametrize("status", [500, 502, 503, 504])
    def test_persistent_5xx_fails_after_retries(self, site_root: Path, status: int) -> None:
        faults = {"repodata/repomd.xml": Fault.error(status)}
        with serve_directory(site_root, faults=faults) as base, \
                pytest.raises(FetchError) as info:
            Urllib3Fetcher(FAST).get_bytes(base.url("repodata/repomd.xml"))
        assert info.value.status == status
        assert base.url("repodata/repomd.xml") in str(info.value)
        assert faults["repodata/repomd.xml"].count == 1 + FAST.retries

    def test_client_errors_are_not_retried(self, site_root: Path) -> None:
        faults = {"secret": Fault.error(403)}
        with serve_directory(site_root, faults=faults) as base, \
                pytest.raises(FetchError) as info:
            Urllib3Fetcher(FAST).get_bytes(base.url("secret"))
        assert info.value.status == 403
        assert base.requests == ["secret"]

    def test_truncated_body_is_refetched_by_get_bytes(self, site_root: Path) -> None:
        faults = {"Packages/a.rpm": Fault.truncated(100, times=1)}
        with serve_directory(site_root, faults=faults) as base:
            assert Urllib3Fetcher(FAST).get_bytes(base.url("Packages/a.rpm")) == b"A" * 3000
        assert base.count("Packages/a.rpm") == 2

    def test_truncated_body_error_says_how_much_arrived(self, site_root: Path) -> None:
        faults = {"Packages/a.rpm": Fault.truncated(100)}
        with serve_directory(site_root, faults=faults) as base, \
                Urllib3Fetcher(FAST).open(base.url("Packages/a.rpm")) as response, \
                pytest.raises(FetchError, match="after 100 bytes") as info:
            response.read()
        assert info.value.status is None

    def test_slow_server_times_out(self, site_root: Path) -> None:
        faults = {"repodata/repomd.xml": Fault.slow(5)}
        options = FetchOptions(timeout=0.2, retries=0, backoff=0)
        with serve_directory(site_root, faults=faults) as base, \
                pytest.raises(FetchError, match="timed out"):
            Urllib3Fetcher(options).get_bytes(base.url("repodata/repomd.xml"))

    def test_connection_refused_names_the_url(self, site_root: Path) -> None:
        with serve_directory(site_root) as base:
            url = base.url("x")
        # the server is stopped: nothing listens on its port any more
        with pytest.raises(FetchError, match="cannot connect") as info:
            Urllib3Fetcher(FetchOptions(retries=1, backoff=0)).get_bytes(url)
        assert info.value.url == url and info.value.status is None
        assert isinstance(info.value.__cause__, Exception)

    def test_unsupported_scheme(self) -> None:
        with pytest.raises(FetchError, match="unsupported URL scheme"):
            Urllib3Fetcher(FAST).open("gopher://127.0.0.1/x")

    # -- conditional requests, headers, authentication --------------------------------
    def test_304_is_returned_as_a_response(self, site_root: Path) -> None:
        faults = {"repodata/repomd.xml": Fault.error(304)}
        with serve_directory(site_root, faults=faults) as base, \
                Urllib3Fetcher(FAST).open(base.url("repodata/repomd.xml"),
                                          headers={"If-None-Match": '"abc"'}) as response:
            assert response.status == 304
            assert response.read() == b""
        assert base.request_headers[0]["If-None-Match"] == '"abc"'

    def test_option_headers_and_user_agent_are_sent(self, site_root: Path) -> None:
        options = FetchOptions(retries=0, headers={"X-Token": "t0k3n"})
        with serve_directory(site_root) as base:
            Urllib3Fetcher(options).get_bytes(base.url("repodata/repomd.xml"))
        headers = base.request_headers[0]
        assert headers["X-Token"] == "t0k3n"
        assert headers["User-Agent"].startswith("chantal/")

    def test_credentials_in_url_become_basic_auth_and_are_masked(self, site_root: Path
                                                                 ) -> None:
        with serve_directory(site_root) as base:
            url = str(base).replace("127.0.0.1", "user:s3cret@127.0.0.1")
            assert Urllib3Fetcher(FAST).get_bytes(url + "repodata/repomd.xml") == SMALL
            with pytest.raises(FetchError) as info:
                Urllib3Fetcher(FAST).get_bytes(url + "missing")
        expected = "Basic " + base64.b64encode(b"user:s3cret").decode()
        assert base.request_headers[0]["Authorization"] == expected
        assert "s3cret" not in str(info.value) and "user:***@" in str(info.value)

    def test_an_at_sign_outside_the_authority_is_no_credential(self, site_root: Path
                                                               ) -> None:
        (site_root / "a@b").write_bytes(SMALL)
        with serve_directory(site_root) as base:
            assert Urllib3Fetcher(FAST).get_bytes(base.url("a@b") + "?x=@y#@z") == SMALL
        assert "Authorization" not in base.request_headers[0]

    def test_redact_url(self) -> None:
        assert redact_url("http://a:b@h.invalid:8080/x") == "http://a:***@h.invalid:8080/x"
        assert redact_url("http://h.invalid/x") == "http://h.invalid/x"

    def test_proxy_with_basic_auth(self, site_root: Path) -> None:
        """Requests go to the proxy in absolute form, with Proxy-Authorization."""
        with serve_directory(site_root) as proxy:
            options = FetchOptions(retries=0, proxy=f"http://alice:pa%40ss@127.0.0.1:{proxy.port}")
            origin = "http://127.0.0.1:9/repodata/repomd.xml"  # never contacted directly
            assert Urllib3Fetcher(options).get_bytes(origin) == SMALL
        assert proxy.proxied == [origin]
        expected = "Basic " + base64.b64encode(b"alice:pa@ss").decode()
        assert proxy.request_headers[0]["Proxy-Authorization"] == expected

    # -- file:// ----------------------------------------------------------------------
    def test_file_urls(self, site_root: Path) -> None:
        fetcher = Urllib3Fetcher(FAST)
        url = (site_root / "repodata" / "repomd.xml").as_uri()
        assert fetcher.get_bytes(url) == SMALL
        with fetcher.open(url) as response:
            assert response.headers["content-length"] == str(len(SMALL))
            assert b"".join(response.iter_chunks(4)) == SMALL
        with pytest.raises(FetchError) as info:
            fetcher.get_bytes((site_root / "missing").as_uri())
        assert info.value.status == 404 and "missing" in str(info.value)
        with pytest.raises(FetchError, match="directory"):
            fetcher.get_bytes(site_root.as_uri())
        with pytest.raises(FetchError, match="remote host"):
            fetcher.get_bytes("file://elsewhere.invalid/etc/hostname")

    # -- HTTPS with a client certificate (the ``pki`` fixture is module-scoped) ---------
    @pytest.fixture
    def tls_site(self, site_root: Path, pki: Pki) -> Iterator[str]:
        tls = ServerTLS(pki.server_cert, pki.server_key, client_ca=pki.ca_cert)
        with serve_directory(site_root, tls=tls) as base:
            yield base.url("repodata/repomd.xml")

    def test_https_requires_the_client_certificate(self, tls_site: str, pki: Pki) -> None:
        options = FetchOptions(retries=0, ca_bundle=pki.ca_cert)
        with pytest.raises(FetchError) as info:
            Urllib3Fetcher(options).get_bytes(tls_site)
        assert tls_site in str(info.value)

    def test_https_with_client_certificate_and_ca_bundle(self, tls_site: str, pki: Pki
                                                         ) -> None:
        options = FetchOptions(retries=0, ca_bundle=pki.ca_cert, client_cert=pki.client_cert,
                               client_key=pki.client_key)
        assert Urllib3Fetcher(options).get_bytes(tls_site) == SMALL

    def test_https_rejects_a_certificate_from_another_ca(self, tls_site: str, pki: Pki
                                                         ) -> None:
        options = FetchOptions(retries=0, ca_bundle=pki.ca_cert,
                               client_cert=pki.other_client_cert,
                               client_key=pki.other_client_key)
        with pytest.raises(FetchError):
            Urllib3Fetcher(options).get_bytes(tls_site)

    def test_https_server_unknown_without_the_ca_bundle(self, tls_site: str, pki: Pki
                                                        ) -> None:
        for ca_bundle in (None, pki.other_ca_cert):
            options = FetchOptions(retries=0, ca_bundle=ca_bundle,
                                   client_cert=pki.client_cert, client_key=pki.client_key)
            with pytest.raises(FetchError, match=r"TLS error.*CERTIFICATE_VERIFY_FAILED"):
                Urllib3Fetcher(options).get_bytes(tls_site)

    def test_https_without_verification(self, tls_site: str, pki: Pki) -> None:
        options = FetchOptions(retries=0, verify_tls=False, client_cert=pki.client_cert,
                               client_key=pki.client_key)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # urllib3's InsecureRequestWarning is expected
            assert Urllib3Fetcher(options).get_bytes(tls_site) == SMALL
