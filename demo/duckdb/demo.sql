-- IMLane demo: a RandomForest fraud model as a SQL function over 1,000,000 transactions.
.timer on
CREATE TABLE transactions AS
SELECT range AS id,
       round(-60.0 * ln(random() * random()), 2) AS amount,     -- gamma(2, 60)
       floor(random() * 24)::DOUBLE AS hour,
       -20.0 * ln(1 - random()) AS distance,                    -- exponential(20)
       floor(18 + random() * 72)::DOUBLE AS age
FROM range(1000000);

CALL imlane_create_function('fraud', 'demo/duckdb/fraud_udf.py', 'DOUBLE, DOUBLE, DOUBLE, DOUBLE', 'INTEGER');

-- The AI function in WHERE: cheap predicates run first, the model sees only the rows that pass.
SELECT count(*) AS flagged, round(avg(amount), 2) AS avg_amount
FROM transactions
WHERE hour < 23 AND fraud(amount, hour, distance, age) = 1;

-- The AI function in the SELECT list, over every row.
SELECT predicted, count(*) AS transactions, round(avg(amount), 2) AS avg_amount
FROM (SELECT fraud(amount, hour, distance, age) AS predicted, amount FROM transactions)
GROUP BY predicted ORDER BY predicted;

SELECT name, batches, rows, round(mean_batch_rows) AS mean_batch_rows, executors, round(busy_s, 2) AS busy_s
FROM imlane_functions();
