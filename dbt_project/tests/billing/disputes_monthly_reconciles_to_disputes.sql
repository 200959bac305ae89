-- Per account and currency, analytics.disputes_monthly adds up to stripe.disputes (every dispute once, its amount
-- once), and on every row the status counts add up to the disputes. Returns the rows or account-currencies
-- that differ.
{{ config(meta={'dagster': {'ref': {'name': 'analytics__disputes_monthly'}}}) }}

with

disputes as (

    select
        account_id,
        lower(currency) as currency,
        count(*) as disputes,
        sum(amount) as amount
    from {{ ref('stripe__disputes') }}
    group by account_id, lower(currency)

),

monthly_rows as (

    select * from {{ ref('analytics__disputes_monthly') }}

),

monthly as (

    select
        account_id,
        currency,
        sum(disputes) as disputes,
        sum(disputed_amount) as amount
    from monthly_rows
    group by account_id, currency

)

select
    coalesce(disputes.account_id, monthly.account_id) as account_id,
    coalesce(disputes.currency, monthly.currency) as currency,
    cast(null as date) as month,
    disputes.disputes as stripe_disputes,
    monthly.disputes as monthly_disputes
from disputes
full outer join monthly
    on disputes.account_id = monthly.account_id
        and disputes.currency = monthly.currency
where disputes.disputes is null
    or monthly.disputes is null
    or disputes.disputes <> monthly.disputes
    or disputes.amount <> monthly.amount

union all

select
    account_id,
    currency,
    month,
    disputes as stripe_disputes,
    open_disputes + won_disputes + lost_disputes + other_closed_disputes as monthly_disputes
from monthly_rows
where other_closed_disputes < 0
    or open_disputes + won_disputes + lost_disputes + other_closed_disputes <> disputes
    or open_amount + won_amount + lost_amount > disputed_amount
