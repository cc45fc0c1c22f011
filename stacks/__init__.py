"""The CDK app: deployment units (stacks) composed from logical units (constructs)."""
