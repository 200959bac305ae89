{#
    Custom schemas are used verbatim: `+schema: stripe` builds into `stripe`, not `<target schema>_stripe`,
    because the schema names (stripe_staging, stripe, analytics) are part of the analysts' contract.
    Models without a custom schema go to the target's schema.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
