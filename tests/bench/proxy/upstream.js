// Write answers of the benchmark's upstream (tests/bench/proxy/upstream.conf). A `js_content` handler runs only
// once nginx has read the whole request body (into memory: client_body_buffer_size), so, like Elasticsearch, the
// upstream answers a write after receiving it, and the body is then dropped without being looked at.
const BULK = '{"took":3,"errors":false,"items":[{"index":{"_index":"bench","_id":"1","_version":1,"result":"created","status":201}}]}';
const DOC = '{"_index":"bench","_id":"1","_version":1,"result":"created","_shards":{"total":1,"successful":1,"failed":0},"_seq_no":0,"_primary_term":1}';

function bulk(r) {
    r.headersOut['Content-Type'] = 'application/json';
    r.return(200, BULK);
}

function doc(r) {
    r.headersOut['Content-Type'] = 'application/json';
    r.return(201, DOC);
}

export default { bulk, doc };
