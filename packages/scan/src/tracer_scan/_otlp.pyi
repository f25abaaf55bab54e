ERROR: int  # severity, severity text or a numeric HTTP status >= 500 says error
BAD_TEXT: int  # invalid UTF-8 in the record, its scope or its resource
SLOW: int  # an attribute Tracer reads holds a string: read the record with the full decoder
BODY_TEXT: int  # the body is a string, at spans[row, 2:4]
BODY_OTHER: int  # the body is another kind: read the record with the full decoder
SPAN_COLUMNS: int  # record offset, record length, body text offset, body text length
RESOURCE_COLUMNS: int  # first row, rows, service.name, tracer.project, service.namespace
# (offset, length; offset -1 when missing or not a string), bad text (0 or 1)

def scan(
    body: bytes | bytearray | memoryview, max_records: int, /
) -> tuple[int, bytes, bytes, bytes, bytes, bytes] | None: ...
