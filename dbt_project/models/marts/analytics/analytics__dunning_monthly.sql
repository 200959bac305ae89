-- The analysts' `analytics.dunning_monthly`: one row per account, currency and month of first failure with any
-- failed renewal, summing analytics.dunning_invoices: how many renewals failed at their first attempt, how
-- their dunning ended (so far), and the money recovered. A cohort: a renewal failing in March and recovered in
-- April counts in March.

with

dunning_invoices as (

    select * from {{ ref('analytics__dunning_invoices') }}

),

monthly as (

    select
        account_id,
        currency,
        cast({{ dbt.date_trunc('month', 'first_failed_at') }} as date) as month,
        count(*) as failed_renewals,
        sum(case when outcome = 'recovered' then 1 else 0 end) as recovered_renewals,
        sum(case when outcome = 'subscription_canceled' then 1 else 0 end) as subscription_canceled_renewals,
        sum(case when outcome = 'uncollectible' then 1 else 0 end) as uncollectible_renewals,
        sum(case when outcome = 'void' then 1 else 0 end) as void_renewals,
        sum(case when outcome = 'open' then 1 else 0 end) as open_renewals,
        sum(amount_due) as failed_amount,
        sum(amount_due_decimal) as failed_amount_decimal,
        sum(case when outcome = 'recovered' then amount_paid else 0 end) as recovered_amount,
        sum(case when outcome = 'recovered' then amount_paid_decimal else 0 end) as recovered_amount_decimal,
        avg(days_to_recover) as avg_days_to_recover
    from dunning_invoices
    group by account_id, currency, cast({{ dbt.date_trunc('month', 'first_failed_at') }} as date)

),

final as (

    select
        -- ids
        account_id,

        -- strings
        currency,

        -- dates
        month,

        -- numerics
        cast(failed_renewals as {{ dbt.type_bigint() }}) as failed_renewals,
        cast(recovered_renewals as {{ dbt.type_bigint() }}) as recovered_renewals,
        cast(subscription_canceled_renewals as {{ dbt.type_bigint() }}) as subscription_canceled_renewals,
        cast(uncollectible_renewals as {{ dbt.type_bigint() }}) as uncollectible_renewals,
        cast(void_renewals as {{ dbt.type_bigint() }}) as void_renewals,
        cast(open_renewals as {{ dbt.type_bigint() }}) as open_renewals,
        cast(1.0 * recovered_renewals / failed_renewals as {{ dbt.type_numeric() }}) as recovery_rate,
        cast(failed_amount as {{ dbt.type_bigint() }}) as failed_amount,
        cast(failed_amount_decimal as {{ dbt.type_numeric() }}) as failed_amount_decimal,
        cast(recovered_amount as {{ dbt.type_bigint() }}) as recovered_amount,
        cast(recovered_amount_decimal as {{ dbt.type_numeric() }}) as recovered_amount_decimal,
        cast(avg_days_to_recover as {{ dbt.type_numeric() }}) as avg_days_to_recover

    from monthly

)

select * from final
