-- The clean `stripe.payout_balance_transactions` table: which balance transactions each automatic payout
-- paid out.

with

payout_balance_transactions as (

    select * from {{ ref('stg_stripe__payout_balance_transactions') }}

),

final as (

    select * from payout_balance_transactions

)

select * from final
