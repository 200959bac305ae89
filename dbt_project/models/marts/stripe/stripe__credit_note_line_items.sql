-- The clean `stripe.credit_note_line_items` table.

with

credit_note_line_items as (

    select * from {{ ref('stg_stripe__credit_note_line_items') }}

),

credit_notes as (

    -- The `stripe` table, not the staging view: the view would parse every credit note's JSON again.
    select * from {{ ref('stripe__credit_notes') }}

),

currency_exponents as (

    select * from {{ ref('currency_exponents') }}

),

lines_with_currency as (

    -- A credit note line carries no currency: it is its credit note's. Left joins, so that a line whose
    -- credit note is missing stays (with a null currency) and the relationship test reports it.
    select
        credit_note_line_items.*,
        credit_notes.currency,
        currency_exponents.exponent as currency_exponent
    from credit_note_line_items
    left join credit_notes
        on credit_note_line_items.account_id = credit_notes.account_id
            and credit_note_line_items.credit_note_id = credit_notes.credit_note_id
    left join currency_exponents
        on credit_notes.currency = currency_exponents.currency

),

final as (

    select
        -- ids
        account_id,
        credit_note_line_item_id,
        credit_note_id,
        invoice_line_item_id,

        -- strings
        line_item_type,
        description,
        currency,
        metadata,

        -- numerics
        amount,
        {{ to_major_units('amount', 'currency_exponent') }} as amount_decimal,
        discount_amount,
        {{ to_major_units('discount_amount', 'currency_exponent') }} as discount_amount_decimal,
        unit_amount,
        -- From Stripe's own unit_amount_decimal, so sub-cent unit amounts survive, as for prices.
        {{ to_major_units('unit_amount_exact', 'currency_exponent') }} as unit_amount_decimal,
        unit_amount_exact,
        quantity,

        -- booleans
        is_livemode,
        -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
        is_deleted,

        -- timestamps
        synced_at

    from lines_with_currency
    -- Only the mode the var stripe_livemode keeps (macros/livemode.sql).
    where {{ livemode_filter() }}

)

select * from final
