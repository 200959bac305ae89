-- The prices MRR counts: licensed recurring prices (metered usage and one-time prices are never MRR), with
-- what int_stripe__subscription_item_values needs to value a quantity of them: the amount per unit (Stripe's
-- exact decimal when it has one), the tiers, the billing interval and the currency's exponent.

with

prices as (

    select * from {{ ref('stripe__prices') }}

),

currency_exponents as (

    select * from {{ ref('currency_exponents') }}

),

final as (

    select
        prices.account_id,
        prices.price_id,
        prices.currency,
        prices.billing_scheme,
        prices.tiers_mode,
        prices.tiers,
        prices.recurring_interval,
        coalesce(prices.recurring_interval_count, 1) as recurring_interval_count,
        coalesce(prices.unit_amount_exact, prices.unit_amount) as unit_amount,
        prices.transform_quantity_divide_by,
        prices.transform_quantity_round,
        currency_exponents.exponent as currency_exponent
    from prices
    left join currency_exponents
        on prices.currency = currency_exponents.currency
    where prices.recurring_interval is not null
        and coalesce(prices.usage_type, 'licensed') = 'licensed'
        and not prices.is_deleted

)

select * from final
