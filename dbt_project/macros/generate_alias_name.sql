{#
    One naming rule for the marts: a mart model is named `<schema>__<entity>` and builds the table `<entity>` in
    its schema. dbt model names are unique project-wide, and both `stripe` and `analytics` have a `customers`,
    so the model names carry the schema (dbt Labs' structure guide) while the tables analysts query do not:
    analytics__payments builds analytics.payments, stripe__customers builds stripe.customers.
    Every other node (staging, intermediate, monitoring, seeds, snapshots) is named as its file, and an explicit
    `alias` config still wins.
#}
{% macro generate_alias_name(custom_alias_name=none, node=none) -%}
    {%- set schema_prefix = (node.config.schema or '') ~ '__' -%}
    {%- if custom_alias_name -%}
        {{ custom_alias_name | trim }}
    {%- elif node.resource_type == 'model' and node.config.schema and node.name.startswith(schema_prefix) -%}
        {{ node.name[schema_prefix | length:] }}
    {%- elif node.version -%}
        {{ node.name ~ '_v' ~ (node.version | replace('.', '_')) }}
    {%- else -%}
        {{ node.name }}
    {%- endif -%}
{%- endmacro %}
