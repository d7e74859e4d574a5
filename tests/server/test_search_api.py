"""`_search`, `_count`, aggregations, scroll, point in time, `_field_caps` and `_mapping`
through the official Python client and raw HTTP, against a real `lanner serve --http`."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from elasticsearch import BadRequestError, Elasticsearch, NotFoundError, helpers

from tests.server.live import Server

INDEX = "logs-search-default"
OTHER = "logs-other-default"
HOURS = ["2024-03-01T10:05:00.000Z", "2024-03-01T10:40:00.000Z", "2024-03-01T12:10:00.000Z",
         "2024-03-01T12:20:00.000Z", "2024-03-01T12:59:59.999Z", "2024-03-02T00:00:00.000Z"]


def _event(number: int) -> dict[str, object]:
    event: dict[str, object] = {
        "@timestamp": HOURS[number % len(HOURS)],
        "event": {"category": "process", "type": "start", "sequence": number},
        "process": {"name": ["cmd.exe", "powershell.exe", "evil.exe"][number % 3],
                    "pid": 1000 + number},
        "host": {"name": f"h{number % 4}"},
        "message": f"process number {number} started",
        "custom": {"code": f"c{number % 2}"},
    }
    if number % 5 == 0:
        del event["host"]  # a document without host.name
    return event


@pytest.fixture(scope="module")
def es(server: Server) -> Iterator[Elasticsearch]:
    client = Elasticsearch(server.url, request_timeout=30)
    client.indices.create(index=INDEX, mappings={"properties": {
        "message": {"type": "text"}, "custom": {"properties": {"code": {"type": "keyword"}}},
        "host": {"properties": {"name": {"type": "keyword"}}},
        "process": {"properties": {"name": {"type": "keyword", "fields": {
            "text": {"type": "text"}}}, "pid": {"type": "long"}}},
        "event": {"properties": {"category": {"type": "keyword"}, "type": {"type": "keyword"},
                                 "sequence": {"type": "long"}}},
        "@timestamp": {"type": "date"}}})
    operations: list[dict[str, object]] = []
    for number in range(30):
        operations += [{"create": {"_index": INDEX, "_id": f"e{number:02d}"}}, _event(number)]
    operations += [{"create": {"_index": OTHER, "_id": "o1"}},
                   {"@timestamp": HOURS[0], "custom": {"code": 7}, "extra": True}]
    assert not client.bulk(operations=operations, refresh=True)["errors"]
    yield client
    client.close()


def _ids(response: object) -> list[str]:
    return [hit["_id"] for hit in response["hits"]["hits"]]  # type: ignore[index]


def test_sort_from_size_and_source_filtering(es: Elasticsearch) -> None:
    response = es.search(index=INDEX, query={"term": {"process.name": "evil.exe"}},
                         sort=[{"event.sequence": "desc"}], size=3, from_=1,
                         source={"includes": ["process.*", "host"], "excludes": ["*.pid"]})
    assert response["hits"]["total"] == {"value": 10, "relation": "eq"}
    assert _ids(response) == ["e26", "e23", "e20"]
    assert [hit["sort"] for hit in response["hits"]["hits"]] == [[26], [23], [20]]
    assert response["hits"]["hits"][0]["_source"] == {"process": {"name": "evil.exe"},
                                                      "host": {"name": "h2"}}
    assert response["hits"]["hits"][2]["_source"] == {"process": {"name": "evil.exe"}}
    assert response["hits"]["max_score"] is None
    bare = es.search(index=INDEX, query={"term": {"event.sequence": 1}}, source=False)
    assert "_source" not in bare["hits"]["hits"][0] and _ids(bare) == ["e01"]


def test_sort_on_dates_missing_values_and_unmapped_fields(es: Elasticsearch) -> None:
    by_time = es.search(index=INDEX, sort=["@timestamp:desc", {"event.sequence": "asc"}],
                        size=2)
    assert _ids(by_time) == ["e05", "e11"]
    assert by_time["hits"]["hits"][0]["sort"] == [1709337600000, 5]
    # documents without host.name go last ascending, first with missing _first
    last = es.search(index=INDEX, sort=[{"host.name": {"order": "asc"}}, "event.sequence"],
                     size=30)
    assert _ids(last)[-6:] == ["e00", "e05", "e10", "e15", "e20", "e25"]
    assert last["hits"]["hits"][-1]["sort"] == [None, 25]
    first = es.search(index=INDEX, sort=[{"host.name": {"missing": "_first"}},
                                         "event.sequence"], size=2)
    assert _ids(first) == ["e00", "e05"]
    unmapped = es.search(index=INDEX, sort=[{"nothing.here": {"unmapped_type": "long"}},
                                            {"_doc": "desc"}], size=1)
    assert _ids(unmapped) == ["e29"]
    with pytest.raises(BadRequestError) as refused:
        es.search(index=INDEX, sort=["nothing.here"])
    assert refused.value.body["error"]["type"] == "search_phase_execution_exception"
    assert refused.value.body["error"]["root_cause"][0]["reason"] == \
        "No mapping found for [nothing.here] in order to sort on"
    with pytest.raises(BadRequestError) as text:
        es.search(index=INDEX, sort=["message"])
    assert "Fielddata is disabled on [message]" in text.value.body["error"]["root_cause"][0][
        "reason"]


def test_track_total_hits_and_the_result_window(server: Server, es: Elasticsearch) -> None:
    capped = es.search(index=INDEX, track_total_hits=7, size=0)
    assert capped["hits"]["total"] == {"value": 7, "relation": "gte"}
    assert "total" not in es.search(index=INDEX, track_total_hits=False)["hits"]
    assert es.count(index=INDEX, query={"term": {"host.name": "h1"}})["count"] == 6
    assert es.count(index=f"{INDEX},{OTHER}")["count"] == 31
    window = httpx.post(f"{server.url}/{INDEX}/_search", json={"from": 9995, "size": 10})
    assert window.status_code == 400
    error = window.json()["error"]
    assert error["type"] == "search_phase_execution_exception"
    assert error["root_cause"][0]["type"] == "illegal_argument_exception"
    assert error["root_cause"][0]["reason"].startswith(
        "Result window is too large, from + size must be less than or equal to: [10000] but "
        "was [10005].")


def test_terms_aggregation_with_order_missing_and_sub_aggregations(es: Elasticsearch) -> None:
    response = es.search(index=INDEX, size=0, aggs={
        "hosts": {"terms": {"field": "host.name", "size": 2, "missing": "none"},
                  "aggs": {"latest": {"max": {"field": "@timestamp"}},
                           "names": {"cardinality": {"field": "process.name"}}}},
        "by_name": {"terms": {"field": "process.name", "order": {"_key": "desc"}}},
        "rare": {"terms": {"field": "host.name", "order": {"_count": "asc"}, "size": 1}}})
    hosts = response["aggregations"]["hosts"]
    # h0..h3 and the missing six have 6 each: ties go by key
    assert [(b["key"], b["doc_count"]) for b in hosts["buckets"]] == [("h0", 6), ("h1", 6)]
    assert hosts["sum_other_doc_count"] == 18
    assert hosts["buckets"][0]["names"] == {"value": 3}
    assert hosts["buckets"][0]["latest"]["value_as_string"] == "2024-03-01T12:59:59.999Z"
    assert [(b["key"], b["doc_count"]) for b in response["aggregations"]["by_name"]["buckets"]] \
        == [("powershell.exe", 10), ("evil.exe", 10), ("cmd.exe", 10)]
    assert response["aggregations"]["rare"]["buckets"] == [{"key": "h0", "doc_count": 6}]
    with pytest.raises(BadRequestError):
        es.search(index=INDEX, aggs={"words": {"terms": {"field": "message"}}})


def test_date_histogram_buckets(es: Elasticsearch) -> None:
    response = es.search(index=INDEX, size=0, query={"term": {"process.name": "cmd.exe"}},
                         aggs={"per_hour": {"date_histogram": {
                             "field": "@timestamp", "fixed_interval": "1h"},
                             "aggs": {"hosts": {"terms": {"field": "host.name"}}}},
                             "per_day": {"date_histogram": {
                                 "field": "@timestamp", "calendar_interval": "day",
                                 "format": "yyyy-MM-dd", "min_doc_count": 1}}})
    # cmd.exe: numbers 0, 3, 6, ... 27: hours 0, 3, 0, 3 ... -> 10:05 and 12:20
    per_hour = response["aggregations"]["per_hour"]["buckets"]
    assert [(b["key_as_string"], b["doc_count"]) for b in per_hour] == [
        ("2024-03-01T10:00:00.000Z", 5), ("2024-03-01T11:00:00.000Z", 0),
        ("2024-03-01T12:00:00.000Z", 5)]
    assert per_hour[0]["key"] == 1709287200000
    assert sum(b["doc_count"] for b in per_hour[2]["hosts"]["buckets"]) == 4
    assert response["aggregations"]["per_day"]["buckets"] == [
        {"key_as_string": "2024-03-01", "key": 1709251200000, "doc_count": 10}]
    bounded = es.search(index=INDEX, size=0, aggs={"h": {"date_histogram": {
        "field": "@timestamp", "calendar_interval": "1d",
        "extended_bounds": {"min": "2024-02-28", "max": "2024-03-03"}}}})
    assert [b["doc_count"] for b in bounded["aggregations"]["h"]["buckets"]] == [0, 0, 25, 5, 0]


def test_scan_reads_everything_through_scroll(es: Elasticsearch) -> None:
    found = list(helpers.scan(es, index=INDEX, query={"query": {"exists": {"field": "host.name"}}},
                              size=7))
    assert sorted(hit["_id"] for hit in found) == sorted(
        f"e{n:02d}" for n in range(30) if n % 5)
    ordered = list(helpers.scan(es, index=INDEX, size=4, preserve_order=True,
                                query={"sort": [{"event.sequence": "desc"}]}))
    assert [hit["_id"] for hit in ordered] == [f"e{n:02d}" for n in reversed(range(30))]


def test_scroll_by_hand_and_clear(server: Server, es: Elasticsearch) -> None:
    first = es.search(index=INDEX, scroll="1m", size=20, sort=["_doc"])
    scroll_id = first["_scroll_id"]
    second = es.scroll(scroll_id=scroll_id, scroll="1m")
    third = es.scroll(scroll_id=scroll_id, scroll="1m")
    assert len(first["hits"]["hits"]) == 20 and len(second["hits"]["hits"]) == 10
    assert third["hits"]["hits"] == []
    assert set(_ids(first)) | set(_ids(second)) == {f"e{n:02d}" for n in range(30)}
    assert es.clear_scroll(scroll_id=scroll_id)["num_freed"] == 1
    with pytest.raises(NotFoundError) as gone:
        es.scroll(scroll_id=scroll_id, scroll="1m")
    assert gone.value.body["error"]["root_cause"][0]["type"] == \
        "search_context_missing_exception"


def test_point_in_time_with_search_after(es: Elasticsearch) -> None:
    pit = es.open_point_in_time(index=INDEX, keep_alive="1m")["id"]
    # a document stored after the point in time opened is not in it
    es.index(index=INDEX, id="late", document=_event(1), refresh=True)
    seen: list[str] = []
    after = None
    while True:
        page = es.search(pit={"id": pit, "keep_alive": "1m"}, size=7,
                         sort=[{"host.name": "asc"}], search_after=after)
        hits = page["hits"]["hits"]
        if not hits:
            break
        assert page["pit_id"] == pit
        seen += [hit["_id"] for hit in hits]
        after = hits[-1]["sort"]
        assert len(after) == 2  # host.name and the _shard_doc tiebreaker
    assert len(seen) == 30 == len(set(seen)) and "late" not in seen
    assert seen[-6:] == ["e00", "e05", "e10", "e15", "e20", "e25"]
    assert es.close_point_in_time(id=pit)["succeeded"] is True
    assert es.count(index=INDEX)["count"] == 31


def test_filter_path_and_the_index_field(server: Server, es: Elasticsearch) -> None:
    response = es.search(index="logs-*", size=1, sort=[{"_index": "asc"}, "_doc"],
                         filter_path=["hits.hits._id", "aggregations.*.buckets"],
                         aggs={"per_index": {"terms": {"field": "_index"}}})
    assert response.body == {"hits": {"hits": [{"_id": "o1"}]}, "aggregations": {
        "per_index": {"buckets": [{"key": INDEX, "doc_count": 31},
                                  {"key": OTHER, "doc_count": 1}]}}}
    raw = httpx.get(f"{server.url}/{INDEX}/_count?filter_path=-_shards")
    assert raw.json() == {"count": 31}  # with the late one of the point-in-time test


def test_contexts_expire_after_their_keep_alive(es: Elasticsearch) -> None:
    pit = es.open_point_in_time(index=INDEX, keep_alive="1s")["id"]
    scroll = es.search(index=INDEX, scroll="1s", size=1)["_scroll_id"]
    time.sleep(1.5)
    with pytest.raises(NotFoundError) as gone:
        es.search(pit={"id": pit}, size=1)
    assert gone.value.body["error"]["root_cause"][0]["type"] == \
        "search_context_missing_exception"
    with pytest.raises(NotFoundError):
        es.scroll(scroll_id=scroll, scroll="1m")


def test_field_caps_and_mapping(es: Elasticsearch) -> None:
    caps = es.field_caps(index="logs-*", fields="custom.code,message,process*")
    assert caps["indices"] == [OTHER, INDEX]
    assert caps["fields"]["custom.code"]["keyword"] == {
        "type": "keyword", "metadata_field": False, "searchable": True, "aggregatable": True,
        "indices": [INDEX]}
    assert caps["fields"]["custom.code"]["long"]["indices"] == [OTHER]
    assert caps["fields"]["message"] == {"text": {"type": "text", "metadata_field": False,
                                                  "searchable": True, "aggregatable": False}}
    assert caps["fields"]["process.name.text"]["text"]["aggregatable"] is False
    assert caps["fields"]["process"]["object"]["searchable"] is False
    mapping = es.indices.get_mapping(index=INDEX)[INDEX]["mappings"]["properties"]
    assert mapping["process"]["properties"]["name"] == {"type": "keyword", "fields": {
        "text": {"type": "text"}}}
    assert mapping["event"]["properties"]["sequence"] == {"type": "long"}
    other = es.indices.get_mapping(index=OTHER)[OTHER]["mappings"]["properties"]
    assert other["custom"] == {"properties": {"code": {"type": "long"}}}
    assert other["extra"] == {"type": "boolean"}


def test_errors_have_elasticsearchs_shape(server: Server) -> None:
    def post(path: str, body: object) -> httpx.Response:
        return httpx.post(server.url + path, json=body)

    missing = post("/no-such-index/_search", {})
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "index_not_found_exception"
    ignored = post("/no-such-index/_search?ignore_unavailable=true", {})
    assert ignored.status_code == 200 and ignored.json()["hits"]["total"]["value"] == 0
    assert post("/nothing-*/_search", {}).status_code == 200
    assert post("/nothing-*/_search?allow_no_indices=false", {}).status_code == 404
    for body, kind in (({"query": {"no_such_query": {}}}, "parsing_exception"),
                       ({"unknown_key": 1}, "parsing_exception"),
                       ({"size": "many"}, "parsing_exception"),
                       ({"size": -1}, "illegal_argument_exception"),
                       ({"sort": [{"host.name": "sideways"}]}, "illegal_argument_exception"),
                       ({"aggs": {"x": {"median": {"field": "host.name"}}}},
                        "parsing_exception"),
                       ({"aggs": {"x": {"date_histogram": {"field": "@timestamp",
                                                            "fixed_interval": "1M"}}}},
                        "illegal_argument_exception"),
                       ({"search_after": [1]}, "illegal_argument_exception"),
                       ({"sort": ["event.sequence"], "search_after": [1, 2]},
                        "illegal_argument_exception")):
        response = post(f"/{INDEX}/_search", body)
        assert response.status_code == 400, (body, response.text)
        error = response.json()["error"]
        assert kind in (error["type"], error["root_cause"][0]["type"]), (body, error)
        assert response.json()["status"] == 400
    not_json = httpx.post(f"{server.url}/{INDEX}/_search", content=b"{nope",
                          headers={"content-type": "application/json"})
    assert not_json.status_code == 400 and not_json.json()["error"]["type"] == \
        "parsing_exception"
    assert httpx.post(f"{server.url}/_search/scroll", json={"scroll_id": "x"}).status_code == 404
    assert httpx.post(f"{server.url}/{INDEX}/_pit").status_code == 400


def test_alerts_index_searches_like_events(server: Server, es: Elasticsearch) -> None:
    """The rule of live.py alerts on evil.exe within ten minutes; the alerts index then
    answers sort, aggregations and scroll like any index."""
    import datetime

    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    es.bulk(operations=[{"create": {"_index": "logs-live-default"}},
                        {"@timestamp": now, "event": {"category": "process", "type": "start"},
                         "process": {"name": "evil.exe"}, "host": {"name": "alerted"}}],
            refresh=True)
    alerts = ".alerts-security.alerts-default"
    assert es.indices.exists(index=alerts)
    deadline = time.monotonic() + 60
    while es.count(index=alerts)["count"] == 0 and time.monotonic() < deadline:
        time.sleep(0.5)
    response = es.search(index=alerts, size=1, sort=[{"kibana.alert.original_time": "desc"}],
                         source=["kibana.alert.rule.name", "host.name"], aggs={
                             "rules": {"terms": {"field": "kibana.alert.rule.name"}},
                             "hours": {"date_histogram": {"field": "kibana.alert.original_time",
                                                          "fixed_interval": "1h"}}})
    assert response["hits"]["total"] == {"value": 1, "relation": "eq"}
    assert response["hits"]["hits"][0]["_source"] == {"kibana.alert.rule.name": "Evil process",
                                                      "host": {"name": "alerted"}}
    assert response["aggregations"]["rules"]["buckets"] == [{"key": "Evil process",
                                                             "doc_count": 1}]
    assert [b["doc_count"] for b in response["aggregations"]["hours"]["buckets"]] == [1]
    assert [hit["_source"]["host"]["name"] for hit in helpers.scan(es, index=alerts)] == \
        ["alerted"]
    closed = es.search(index=alerts, query={"term": {"kibana.alert.workflow_status": "closed"}})
    assert closed["hits"]["total"]["value"] == 0
    mapping = es.indices.get_mapping(index=alerts)[alerts]["mappings"]["properties"]
    assert mapping["kibana"]["properties"]["alert"]["properties"]["original_time"] == {
        "type": "date"}
    assert es.field_caps(index=alerts, fields="kibana.alert.risk_score")["fields"] == {
        "kibana.alert.risk_score": {"float": {"type": "float", "metadata_field": False,
                                              "searchable": True, "aggregatable": True}}}
    alert_id = response["hits"]["hits"][0]["_id"]
    by_id = es.search(index=alerts, query={"bool": {"filter": [{"ids": {"values": [alert_id]}}]}})
    assert _ids(by_id) == [alert_id]
    # closed through Kibana's API, the alert reads closed here at once
    closing = httpx.post(f"{server.url}/api/detection_engine/signals/status",
                         headers={"kbn-xsrf": "true"},
                         json={"signal_ids": [alert_id], "status": "closed"})
    assert closing.status_code == 200, closing.text
    closed = es.search(index=alerts, query={"term": {"kibana.alert.workflow_status": "closed"}})
    assert _ids(closed) == [alert_id]
