"""The on-disk rules cache (lanner.rules.cache): a cached load is the same as a fresh one, and
it is never stale, never trusted when corrupt, off when asked, and private."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

from lanner import eql
from lanner.eql import ast
from lanner.eql.parser import Parser
from lanner.rules import cache, known, load_rules
from tests.conftest import CORPUS, EXAMPLES, require_shared


@pytest.fixture(autouse=True)
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("LANNER_CACHE", raising=False)
    eql._REMEMBERED.clear()
    return tmp_path / "xdg" / "lanner"


def bundles(home: Path) -> list[Path]:
    folder = home / "rules"
    return sorted(folder.glob("*.pickle")) if folder.is_dir() else []


def copy_examples(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(EXAMPLES, target)
    return target


def test_cached_load_equals_uncached_load_on_the_corpus(
        cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_shared()
    monkeypatch.setenv("LANNER_CACHE", "off")
    fresh, fresh_errors = load_rules([CORPUS])
    monkeypatch.delenv("LANNER_CACHE")
    cold, cold_errors = load_rules([CORPUS])
    assert len(bundles(cache_home)) == 1
    entries = cache.read_bundle(bundles(cache_home)[0].name)
    assert len(entries) == len(fresh)
    eql._REMEMBERED.clear()
    warm, warm_errors = load_rules([CORPUS])
    assert len(fresh) > 1000
    for loaded in (cold, warm):
        assert [r.rule_id for r in loaded] == [r.rule_id for r in fresh]
        assert [r.query for r in loaded] == [r.query for r in fresh]
        assert loaded == fresh
        assert [r.filters for r in loaded] == [r.filters for r in fresh]
        assert [r.transform for r in loaded] == [r.transform for r in fresh]
    assert [str(e) for e in warm_errors] == [str(e) for e in fresh_errors] == [
        str(e) for e in cold_errors]
    remembered = [rule for rule in fresh if rule.query in eql._REMEMBERED]
    assert len(remembered) > 900
    # the warm load handed its cached queries to eql.parse, to be read when first asked
    assert all(callable(eql._REMEMBERED[rule.query]) for rule in remembered)
    for rule in remembered:
        query = eql.parse(rule.query)
        assert query == Parser(rule.query).parse_query()
        assert eql._REMEMBERED[rule.query] is query  # read once
        assert known.query_fields(rule.query) == known.fields_of(query)


def test_the_loader_knows_each_file_s_own_exceptions(tmp_path: Path) -> None:
    folder = copy_examples(tmp_path)
    with_items = folder / "common_webservices.toml"
    with_items.write_text(with_items.read_text(encoding="utf-8") + """
[[exceptions]]
name = "Chrome"
entries = [{ field = "process.name", operator = "included", type = "match", value = "x" }]
""", encoding="utf-8")
    for _ in ("cold", "warm"):
        rules, errors = load_rules([folder])
        assert not errors
        assert {Path(r.path).name: known.has_own_exceptions(r.path) for r in rules} == {
            "common_webservices.toml": True, "ingress_transfer_bits.toml": False,
            "remote_file_download_powershell.toml": False,
            "smb_connection_lolbin.toml": False, "update_orchestrator_hijack.toml": False}


def test_a_changed_file_misses(cache_home: Path, tmp_path: Path) -> None:
    folder = copy_examples(tmp_path)
    first, _ = load_rules([folder])
    name = bundles(cache_home)[0].name
    keys = set(cache.read_bundle(name))
    path = sorted(folder.glob("*.toml"))[0]
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('name = "', 'name = "Changed ', 1), encoding="utf-8")
    second, _ = load_rules([folder])
    changed = next(r for r in second if r.path == str(path))
    assert changed.name.startswith("Changed ")
    assert [r for r in second if r.path != str(path)] == [
        r for r in first if r.path != str(path)]
    new_keys = set(cache.read_bundle(name))
    assert len(new_keys - keys) == 1 and len(keys - new_keys) == 1


def test_another_lanner_version_misses(cache_home: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    folder = copy_examples(tmp_path)
    load_rules([folder])
    (old,) = bundles(cache_home)
    monkeypatch.setattr(cache, "version", lambda: "99.0+other")
    assert cache.read_bundle(old.name) == {}
    rules, errors = load_rules([folder])
    assert len(rules) == 5 and not errors
    assert len(bundles(cache_home)) == 2  # its own bundle, with the new version in its key


def test_a_corrupt_cache_file_is_ignored_and_rewritten(cache_home: Path, tmp_path: Path) -> None:
    folder = copy_examples(tmp_path)
    expected, _ = load_rules([folder])
    (bundle,) = bundles(cache_home)
    bundle.write_bytes(b"\x80\x05not a pickle at all")
    assert cache.read_bundle(bundle.name) == {}
    rules, errors = load_rules([folder])
    assert rules == expected and not errors
    assert len(cache.read_bundle(bundle.name)) == 5


def test_a_cache_file_others_can_write_is_not_trusted(cache_home: Path,
                                                      tmp_path: Path) -> None:
    folder = copy_examples(tmp_path)
    load_rules([folder])
    (bundle,) = bundles(cache_home)
    bundle.chmod(0o666)
    assert cache.read_bundle(bundle.name) == {}


def test_an_open_cache_directory_is_not_used(cache_home: Path, tmp_path: Path) -> None:
    folder = copy_examples(tmp_path)
    cache_home.mkdir(parents=True)
    cache_home.chmod(0o777)
    rules, _ = load_rules([folder])
    assert len(rules) == 5
    assert not (cache_home / "rules").exists()


def test_lanner_cache_off_writes_nothing(cache_home: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    folder = copy_examples(tmp_path)
    monkeypatch.setenv("LANNER_CACHE", "off")
    rules, errors = load_rules([folder])
    assert len(rules) == 5 and not errors
    assert not cache_home.exists()


def test_the_cache_directory_is_private(cache_home: Path, tmp_path: Path) -> None:
    load_rules([copy_examples(tmp_path)])
    for folder in (cache_home, cache_home / "rules"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    (bundle,) = bundles(cache_home)
    assert stat.S_IMODE(bundle.stat().st_mode) & 0o077 == 0
    assert not [p for p in (cache_home / "rules").iterdir() if p.name.startswith(".tmp-")]


def test_clear_removes_the_cache(cache_home: Path, tmp_path: Path) -> None:
    load_rules([copy_examples(tmp_path)])
    assert cache.clear() == 1
    assert bundles(cache_home) == []


def test_lanner_cache_clear_command(cache_home: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from lanner.cli.app import app

    load_rules([copy_examples(tmp_path)])
    result = CliRunner().invoke(app, ["cache", "clear"])
    assert result.exit_code == 0, result.output
    assert "removed 1 cache file" in result.output
    assert bundles(cache_home) == []


def test_old_bundles_are_pruned(cache_home: Path, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "KEEP", 2)
    folder = copy_examples(tmp_path)
    files = sorted(folder.glob("*.toml"))
    for file in files[:4]:
        load_rules([file])
    assert len(bundles(cache_home)) == 2


def test_a_cached_node_is_rebuilt_field_by_field_and_a_short_one_refused() -> None:
    query = eql.parse('process where process.name : ("cmd.exe", "pwsh.exe") and not '
                      'user.name == "SYSTEM"')
    again = cache.load_query(cache.dump_query(query))
    assert again == query and repr(again) == repr(query)
    assert [node.span for node in again.walk()] == [node.span for node in query.walk()]
    with pytest.raises(ValueError, match="String has 2 fields"):
        cache._rebuild(type(next(query.find_all(ast.String))), ("only one",))
