-- The analysts' `analytics.disputes_monthly`: one row per account, currency, month and dispute reason with any
-- dispute, each dispute in the month it was opened (its own `created`, not its charge's), in its currency,
-- with where the disputes of that month stand now, next to the month's successful charges for the dispute rate.
-- Stripe's dispute status: warning_needs_response, warning_under_review, warning_closed (inquiries),
-- needs_response, under_review, won, lost, prevented (https://docs.stripe.com/api/disputes/object#dispute_object-status).

with

disputes as (

    select * from {{ ref('stripe__disputes') }}

),

charges as (

    select * from {{ ref('stripe__charges') }}

),

currency_exponents as (

    select * from {{ ref('currency_exponents') }}

),

charge_months as (

    select
        account_id,
        lower(currency) as currency,
        cast({{ dbt.date_trunc('month', 'created_at') }} as date) as month,
        count(*) as successful_charges,
        sum(amount_captured) as gross_volume
    from charges
    where status = 'succeeded'
    group by account_id, lower(currency), cast({{ dbt.date_trunc('month', 'created_at') }} as date)

),

dispute_months as (

    select
        account_id,
        lower(currency) as currency,
        cast({{ dbt.date_trunc('month', 'created_at') }} as date) as month,
        coalesce(reason, 'unspecified') as reason,
        count(*) as disputes,
        sum(amount) as disputed_amount,
        sum(case when status in ('needs_response', 'warning_needs_response') then 1 else 0 end) as needs_response_disputes,
        sum(case when status in ('under_review', 'warning_under_review') then 1 else 0 end) as under_review_disputes,
        sum(case when status = 'won' then 1 else 0 end) as won_disputes,
        sum(case when status = 'won' then amount else 0 end) as won_amount,
        sum(case when status = 'lost' then 1 else 0 end) as lost_disputes,
        sum(case when status = 'lost' then amount else 0 end) as lost_amount,
        sum(
            case
                when status in ('needs_response', 'warning_needs_response', 'under_review', 'warning_under_review')
                    then amount
                else 0
            end
        ) as open_amount
    from disputes
    group by
        account_id,
        lower(currency),
        cast({{ dbt.date_trunc('month', 'created_at') }} as date),
        coalesce(reason, 'unspecified')

),

final as (

    select
        -- ids
        dispute_months.account_id,

        -- strings
        dispute_months.currency,
        dispute_months.reason,

        -- dates
        dispute_months.month,

        -- numerics
        cast(dispute_months.disputes as {{ dbt.type_bigint() }}) as disputes,
        cast(dispute_months.disputed_amount as {{ dbt.type_bigint() }}) as disputed_amount,
        {{ to_major_units('dispute_months.disputed_amount', 'currency_exponents.exponent') }} as disputed_amount_decimal,
        cast(dispute_months.needs_response_disputes as {{ dbt.type_bigint() }}) as needs_response_disputes,
        cast(dispute_months.under_review_disputes as {{ dbt.type_bigint() }}) as under_review_disputes,
        cast(
            dispute_months.needs_response_disputes + dispute_months.under_review_disputes as {{ dbt.type_bigint() }}
        ) as open_disputes,
        cast(dispute_months.open_amount as {{ dbt.type_bigint() }}) as open_amount,
        {{ to_major_units('dispute_months.open_amount', 'currency_exponents.exponent') }} as open_amount_decimal,
        cast(dispute_months.won_disputes as {{ dbt.type_bigint() }}) as won_disputes,
        cast(dispute_months.won_amount as {{ dbt.type_bigint() }}) as won_amount,
        {{ to_major_units('dispute_months.won_amount', 'currency_exponents.exponent') }} as won_amount_decimal,
        cast(dispute_months.lost_disputes as {{ dbt.type_bigint() }}) as lost_disputes,
        cast(dispute_months.lost_amount as {{ dbt.type_bigint() }}) as lost_amount,
        {{ to_major_units('dispute_months.lost_amount', 'currency_exponents.exponent') }} as lost_amount_decimal,
        -- Closed otherwise: an inquiry closed without a chargeback (warning_closed), or a prevented dispute.
        cast(
            dispute_months.disputes - dispute_months.needs_response_disputes - dispute_months.under_review_disputes
            - dispute_months.won_disputes - dispute_months.lost_disputes as {{ dbt.type_bigint() }}
        ) as other_closed_disputes,
        cast(
            case
                when dispute_months.won_disputes + dispute_months.lost_disputes > 0
                    then 1.0 * dispute_months.won_disputes / (dispute_months.won_disputes + dispute_months.lost_disputes)
            end as {{ dbt.type_numeric() }}
        ) as win_rate,
        cast(coalesce(charge_months.successful_charges, 0) as {{ dbt.type_bigint() }}) as successful_charges,
        cast(coalesce(charge_months.gross_volume, 0) as {{ dbt.type_bigint() }}) as gross_volume,
        {{ to_major_units('coalesce(charge_months.gross_volume, 0)', 'currency_exponents.exponent') }} as gross_volume_decimal,
        -- The card networks' measure: disputes opened in the month ÷ the month's successful charges.
        cast(
            case
                when charge_months.successful_charges > 0
                    then 1.0 * dispute_months.disputes / charge_months.successful_charges
            end as {{ dbt.type_numeric() }}
        ) as dispute_rate

    from dispute_months
    left join charge_months
        on dispute_months.account_id = charge_months.account_id
            and dispute_months.currency = charge_months.currency
            and dispute_months.month = charge_months.month
    left join currency_exponents
        on dispute_months.currency = currency_exponents.currency

)

select * from final
