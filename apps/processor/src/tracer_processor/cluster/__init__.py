"""Clustered mode on NATS JetStream: stateless receivers, processors owning partitions."""
