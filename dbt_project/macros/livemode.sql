{#
    Which mode's objects the `stripe` tables keep, the var `stripe_livemode`:
    - auto (default): an account's live-mode objects only, once the warehouse holds any live-mode event of it;
      before that, what there is (an account synced in test mode while it is being set up). So an account first
      connected with a test key and then with a live one reports live figures from its first live sync, its
      test objects left out, without anyone deleting them. Stripe keeps events 30 days: an account with no live
      activity in the 30 days before its first live sync keeps its test objects until its first live event.
    - live or test: that mode only, in every account; all: both, side by side (is_livemode tells them apart).
    Test and live objects never share an id in Stripe, so nothing is merged either way. An object whose mode is
    unknown (a deleted object's stub carries no livemode) is kept in every mode. stripe.events is the log of
    both modes and is never filtered: the objects its rows name are.
#}

{% macro stripe_livemode() -%}
    {%- set mode = (var('stripe_livemode', 'auto') or 'auto') | string | trim | lower -%}
    {%- if mode not in ('auto', 'live', 'test', 'all') -%}
        {{ exceptions.raise_compiler_error(
            "stripe_livemode must be auto, live, test or all, not '" ~ mode ~ "'. Fix the var in dbt_project.yml"
            ~ " or --vars."
        ) }}
    {%- endif -%}
    {{ return(mode) }}
{%- endmacro %}


{# The rows of an object with a `livemode` field (is_livemode) that the mode keeps: a where condition. #}
{% macro livemode_filter() -%}
    {%- set mode = stripe_livemode() -%}
    {%- if mode == 'all' -%}
    1 = 1
    {%- elif mode == 'live' -%}
    coalesce(is_livemode, true)
    {%- elif mode == 'test' -%}
    not coalesce(is_livemode, false)
    {%- else -%}
    (
        coalesce(is_livemode, true)
        or account_id not in (select events.account_id from {{ ref('stripe__events') }} as events where events.is_livemode)
    )
    {%- endif -%}
{%- endmacro %}


{#
    For an object Stripe gives no `livemode` (refunds, subscription items, balance transactions): a where
    condition keeping the rows of `alias` unless the parent `key_column` names is one the mode left out, i.e. in
    the raw table `parent_table` (every object loaded) but not in `parent_mart` (the kept ones). A parent not
    loaded at all keeps its children. The raw table is read for its `id` column alone, never its JSON: the
    staging view would parse every object again (each staging view has one reader, its stripe table).
#}
{% macro livemode_parent_filter(alias, key_column, parent_table, parent_mart, parent_key) -%}
    {%- if stripe_livemode() == 'all' -%}
    1 = 1
    {%- else -%}
    not exists (
        select 1
        from {{ source('stripe_raw', parent_table) }} as every_parent
        where every_parent.account_id = {{ alias }}.account_id
            and every_parent.id = {{ alias }}.{{ key_column }}
            and not exists (
                select 1
                from {{ ref(parent_mart) }} as kept_parent
                where kept_parent.account_id = every_parent.account_id
                    and kept_parent.{{ parent_key }} = every_parent.id
            )
    )
    {%- endif -%}
{%- endmacro %}
