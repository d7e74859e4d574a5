"""The detection server: Elasticsearch's REST API (the part shippers and clients use) over the
store, beside the scheduler that runs the rules. `lanner serve --http` starts it."""
