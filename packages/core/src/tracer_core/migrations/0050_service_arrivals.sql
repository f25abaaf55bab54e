-- When any processor replica last received records of each service (processor clock). A
-- replica treats a service as silent (and may raise service_down) only when no replica has
-- received it for the silence period, so a stream moving between replicas is not an outage.
-- Replicas upsert in batches with greatest(), so the row only moves forward.

CREATE TABLE service_arrivals (
    project      text        NOT NULL,
    service      text        NOT NULL,
    last_arrival timestamptz NOT NULL,
    PRIMARY KEY (project, service)
);
