-- The analysts' `analytics.invoice_line_items`: one row per invoice line, with its invoice's customer and
-- status, and its product's and price's names, beside it.

with

invoice_line_items as (

    select * from {{ ref('stripe__invoice_line_items') }}

),

invoices as (

    select * from {{ ref('stripe__invoices') }}

),

prices as (

    select * from {{ ref('stripe__prices') }}

),

products as (

    select * from {{ ref('stripe__products') }}

),

final as (

    select
        -- ids
        invoice_line_items.account_id,
        invoice_line_items.line_item_id,
        invoice_line_items.invoice_id,
        invoices.customer_id,
        invoice_line_items.subscription_id,
        invoice_line_items.subscription_item_id,
        invoice_line_items.invoice_item_id,
        invoice_line_items.price_id,
        invoice_line_items.product_id,

        -- strings
        invoice_line_items.parent_type,
        invoice_line_items.description,
        invoices.status as invoice_status,
        products.product_name,
        prices.nickname as price_nickname,
        invoice_line_items.currency,

        -- numerics: each amount in minor units, then in major units (`_decimal`). The unit amount is Stripe's
        -- pricing.unit_amount_decimal, in minor units with up to 12 decimals (sub-cent prices): numeric.
        invoice_line_items.quantity,
        cast(invoice_line_items.unit_amount_exact as numeric(28, 12)) as unit_amount,
        invoice_line_items.unit_amount_decimal,
        invoice_line_items.amount,
        invoice_line_items.amount_decimal,
        invoice_line_items.discount_amount,
        invoice_line_items.discount_amount_decimal,
        invoice_line_items.tax_amount,
        invoice_line_items.tax_amount_decimal,

        -- booleans
        coalesce(invoice_line_items.is_proration, false) as is_proration,
        invoice_line_items.is_discountable,

        -- timestamps
        invoice_line_items.period_start_at,
        invoice_line_items.period_end_at,
        invoices.created_at as invoice_created_at

    from invoice_line_items
    left join invoices
        on invoice_line_items.account_id = invoices.account_id
            and invoice_line_items.invoice_id = invoices.invoice_id
    left join prices
        on invoice_line_items.account_id = prices.account_id
            and invoice_line_items.price_id = prices.price_id
    left join products
        on invoice_line_items.account_id = products.account_id
            and invoice_line_items.product_id = products.product_id

)

select * from final
