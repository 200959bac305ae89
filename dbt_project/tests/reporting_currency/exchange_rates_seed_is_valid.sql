-- The seed exchange_rates, which users fill in by hand: every row names two different three-letter currencies, a
-- day and a rate above zero, and no pair has two rates on one day. Returns the rows that do not.

with

exchange_rates as (

    select * from {{ ref('exchange_rates') }}

),

invalid_rows as (

    select
        currency_from,
        currency_to,
        rate_date,
        'a currency is not a three-letter code, the two are the same, or the date or rate is missing or not above zero'
            as problem
    from exchange_rates
    where currency_from is null
        or currency_to is null
        or length(trim(currency_from)) <> 3
        or length(trim(currency_to)) <> 3
        or lower(currency_from) = lower(currency_to)
        or rate_date is null
        or rate is null
        or rate <= 0

),

repeated_days as (

    select
        lower(currency_from) as currency_from,
        lower(currency_to) as currency_to,
        rate_date,
        'two rates for one pair and day' as problem
    from exchange_rates
    group by lower(currency_from), lower(currency_to), rate_date
    having count(*) > 1

)

select * from invalid_rows
union all
select * from repeated_days
