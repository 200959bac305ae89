-- The analysts' `analytics.customer_revenue`: one row per account, customer and currency the customer was
-- charged in. Payments without a customer form their own row (customer_id null), so that the totals here add
-- up to analytics.payments (the customer overview failure of fivetran/dbt_stripe#28).

with

payments as (

    select * from {{ ref('analytics__payments') }}

),

final as (

    select
        -- ids
        account_id,
        customer_id,

        -- strings
        currency,

        -- numerics
        -- Paid: what succeeded charges captured; refunded: what was refunded of them since. Gross of fees,
        -- in the charge's currency (fees are in the settlement currency: see analytics.payments). Sums are cast
        -- back to the contract's types: DuckDB sums bigints into hugeint and numeric(28, 6) into numeric(38, 6).
        cast(sum(case when status = 'succeeded' then amount_captured else 0 end) as bigint) as total_paid,
        cast(sum(case when status = 'succeeded' then amount_captured_decimal else 0 end) as {{ dbt.type_numeric() }}) as total_paid_decimal,
        cast(sum(case when status = 'succeeded' then amount_refunded else 0 end) as bigint) as total_refunded,
        cast(
            sum(case when status = 'succeeded' then amount_refunded_decimal else 0 end) as {{ dbt.type_numeric() }}
        ) as total_refunded_decimal,
        cast(sum(case when status = 'succeeded' then amount_captured - amount_refunded else 0 end) as bigint) as net_paid,
        cast(
            sum(case when status = 'succeeded' then amount_captured_decimal - amount_refunded_decimal else 0 end)
            as {{ dbt.type_numeric() }}
        ) as net_paid_decimal,
        cast(sum(case when status = 'succeeded' then 1 else 0 end) as bigint) as successful_payment_count,
        cast(sum(case when status = 'failed' then 1 else 0 end) as bigint) as failed_payment_count,
        cast(sum(case when status = 'succeeded' and amount_refunded > 0 then 1 else 0 end) as bigint) as refunded_payment_count,

        -- timestamps
        min(case when status = 'succeeded' then created_at end) as first_payment_at,
        max(case when status = 'succeeded' then created_at end) as last_payment_at

    from payments
    group by account_id, customer_id, currency

)

select * from final
