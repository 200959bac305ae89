-- analytics.customer_segments: what an analyst slices customers by, one row per customer, for joining to any
-- mart on (account_id, customer_id): country, email domain, mode, and the metadata keys the deployment lists
-- in the var stripe_metadata_keys.customer as typed columns.
-- Country: the customer's billing address, else the country of the card of its latest successful payment
-- (how ChartMogul and Baremetrics place a customer without an address); country_source says which.

with

customers as (

    select * from {{ ref('stripe__customers') }}

),

charges as (

    select * from {{ ref('stripe__charges') }}

),

latest_card_countries as (

    select
        account_id,
        customer_id,
        card_country,
        row_number() over (
            partition by account_id, customer_id
            order by created_at desc, charge_id desc
        ) as recency
    from charges
    where status = 'succeeded'
        and customer_id is not null
        and card_country is not null

),

final as (

    select
        -- ids
        customers.account_id,
        customers.customer_id,

        -- strings
        upper(coalesce(customers.address_country, latest_card_countries.card_country)) as country,
        case
            when customers.address_country is not null then 'billing_address'
            when latest_card_countries.card_country is not null then 'card'
        end as country_source,
        nullif(lower({{ dbt.split_part('customers.email', "'@'", 2) }}), '') as email_domain,

        -- booleans
        customers.is_livemode,
        customers.is_deleted

        -- metadata, typed as the var says (renders nothing without keys, so the line may be blank)
        {{ metadata_columns('customer', 'customers.metadata') }}  -- noqa: LT02

    from customers
    left join latest_card_countries
        on customers.account_id = latest_card_countries.account_id
            and customers.customer_id = latest_card_countries.customer_id
            and latest_card_countries.recency = 1

)

select * from final
