"""Prints template.yaml as CloudFormation sees it after the SAM transform
(what `sam deploy` creates), as JSON, using the SAM translator that the SAM
CLI in .venv ships. The template tests read it: the roles, permissions and
event source mappings SAM generates are in the deployed stack, not in our
YAML.

Usage: .venv/bin/python scripts/sam_transform.py [template.yaml]
"""

import json
import os
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicies:
    """The translator asks IAM for the ARNs of AWS managed policies named in
    `Policies`; the template names none (tests/api/template.rs checks), so a
    lookup is an error rather than a network call."""

    def load(self):
        raise SystemExit("template.yaml names an AWS managed policy; it must not")


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "template.yaml"
    # ARNs are built with ${AWS::Partition}; the region only has to be known.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with open(path, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    # `sam deploy` uploads each function's code and puts its S3 address in
    # CodeUri before the transform; so does this, with a made-up address.
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = f"s3://sam-artifacts/{name}.zip"
    print(json.dumps(transform(template, {}, NoManagedPolicies()), indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
