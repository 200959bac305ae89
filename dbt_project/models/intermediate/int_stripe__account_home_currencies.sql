-- The currency each account settles in, for the activity that moves no money. Failed payments and sign-ups
-- have no balance currency of their own: analytics.daily_overview counts them in the account's settlement
-- currency (its default currency; without the account object, the first of its balance currencies), where the
-- money would have landed.

with

balance_transactions as (

    select * from {{ ref('stripe__balance_transactions') }}

),

charges as (

    select * from {{ ref('stripe__charges') }}

),

customers as (

    select * from {{ ref('stripe__customers') }}

),

disputes as (

    select * from {{ ref('stripe__disputes') }}

),

accounts as (

    select * from {{ ref('stripe__accounts') }}

),

account_ids as (

    select account_id from balance_transactions
    union
    select account_id from charges
    union
    select account_id from customers
    union
    select account_id from disputes

),

final as (

    select
        account_ids.account_id,
        coalesce(accounts.default_currency, min(balance_transactions.currency)) as currency
    from account_ids
    left join accounts
        on account_ids.account_id = accounts.account_id
    left join balance_transactions
        on account_ids.account_id = balance_transactions.account_id
    group by account_ids.account_id, accounts.default_currency

)

select * from final
