-- Hand-written DuckDB baseline of rules/nct03562065 (26 criteria) over a columnar registry
-- (screener convert --to tables; layout in screener/tables/layout.py): what an analyst would
-- write by hand for the same criteria, for issue 17 §6 (benchmarks/bench_end_to_end.py runs it
-- and counts its disagreements with screener batch --engine vectorized, criterion by criterion).
--
-- Placeholders (benchmarks/baseline.py fills them): {as_of} the screening date (YYYY-MM-DD);
-- {patients} {observations} {statuses} {assessments} {conditions} {medications}
-- {administrations}: the registry's tables (read_parquet(...)).
--
-- Written from the rule file, not from screener's code: the latest value within its freshness
-- window (units are already canonical in the registry), person-only statuses only when someone
-- confirmed them, the declared pregnant/hCG contradiction, derived values (age, Cockcroft-Gault,
-- Mosteller BSA, x ULN, BNF prednisone and MMF equivalents, doses per kg and per m2), medication
-- periods with washouts and cumulative days at dose. Unknown is SQL NULL, so AND / OR / NOT are
-- the rule language's three-valued logic; first_known is coalesce; exists / every are the
-- macros below. What it leaves out (see benchmarks/README.md): values of the wrong type and
-- implausible values (screener makes the patient an error), two different values of one lab
-- on one day, a condition recorded both active and resolved, unconfirmed conditions, death and
-- observed periods. The generated registry has none of these; a registry that has them will
-- show disagreements here, which is the point of screener doing them.
--
-- One statement per ';' (the runner splits on it): no ';' inside comments or strings.

-- exists / every over the rows matching m (NULL m: not a member), as the rule language reads
-- them: true, false or unknown (NULL) over the members, the 'absent' value when there is none
CREATE OR REPLACE MACRO ex3(w, m, absent) AS
    CASE WHEN bool_or(coalesce(m, FALSE) AND w) THEN TRUE
         WHEN bool_or(coalesce(m, FALSE) AND w IS NULL) THEN NULL
         WHEN bool_or(coalesce(m, FALSE)) THEN FALSE ELSE absent END;

CREATE OR REPLACE MACRO every3(w, m, absent) AS
    CASE WHEN bool_or(coalesce(m, FALSE) AND NOT w) THEN FALSE
         WHEN bool_or(coalesce(m, FALSE) AND w IS NULL) THEN NULL
         WHEN bool_or(coalesce(m, FALSE)) THEN TRUE ELSE absent END;

CREATE OR REPLACE MACRO word_in(t) AS CASE WHEN t THEN 'pass' WHEN NOT t THEN 'fail' ELSE 'unknown' END;

CREATE OR REPLACE MACRO word_ex(t) AS CASE WHEN t THEN 'fail' WHEN NOT t THEN 'pass' ELSE 'unknown' END;

-- the latest observation of each lab not after the screening date (ties: listed later), its
-- freshness limit from the rule file's max_age_days
CREATE OR REPLACE TEMP TABLE ob AS
SELECT pid, name,
       max(date) AS date,
       arg_max(value_num, date_diff('day', DATE '1970-01-01', date) * 100000 + seq) AS num,
       arg_max(value_text, date_diff('day', DATE '1970-01-01', date) * 100000 + seq) AS txt,
       arg_max(reference_high, date_diff('day', DATE '1970-01-01', date) * 100000 + seq) AS ref_high,
       arg_max_null(attributed_to_sle, date_diff('day', DATE '1970-01-01', date) * 100000 + seq) AS to_sle,
       arg_max_null(on_oxygen, date_diff('day', DATE '1970-01-01', date) * 100000 + seq) AS on_oxygen,
       bool_or(value_text = 'positive') AS ever_positive
FROM {observations}
WHERE date <= DATE '{as_of}'
GROUP BY pid, name;

CREATE OR REPLACE TEMP TABLE obs AS
SELECT o.pid, o.name, o.date, o.num, o.txt, o.ref_high, o.to_sle, o.on_oxygen, o.ever_positive
FROM ob o JOIN (VALUES
    ('weight', 90), ('height', 3650), ('creatinine', 60), ('creatinine_clearance_measured', 60),
    ('ast', 60), ('alt', 60), ('neutrophils', 60), ('platelets', 60), ('hemoglobin', 60), ('cd4', 60),
    ('lvef', 365), ('pap_mean', 365), ('pao2', 90), ('paco2', 90), ('ana', 100000), ('hiv', 365),
    ('htlv', 365), ('hbsag', 365), ('hcv_rna', 365), ('hcv_antibody', 365), ('anti_hbc', 365),
    ('pregnancy_test', 14)
) f(name, max_age) ON f.name = o.name
WHERE date_diff('day', o.date, DATE '{as_of}') <= f.max_age;

-- the latest status (undated counts as the oldest and is never too old); person-only ones
-- count only when someone confirmed the latest
CREATE OR REPLACE TEMP TABLE st AS
SELECT s.pid, s.name, s.date, s.value_bool AS v
FROM (SELECT pid, name,
             arg_max(date, coalesce(date_diff('day', DATE '1970-01-01', date), -100000) * 100000 + seq) AS date,
             arg_max(value_bool, coalesce(date_diff('day', DATE '1970-01-01', date), -100000) * 100000 + seq)
                 AS value_bool,
             arg_max_null(coalesce(confirmed_by, '') <> '',
                          coalesce(date_diff('day', DATE '1970-01-01', date), -100000) * 100000 + seq) AS confirmed
      FROM {statuses} WHERE date IS NULL OR date <= DATE '{as_of}' GROUP BY pid, name) s
JOIN (VALUES
    ('pregnant', 30, FALSE), ('breastfeeding', 30, FALSE), ('childbearing_potential', NULL, FALSE),
    ('contraception_required', NULL, FALSE), ('effective_contraception', 30, FALSE),
    ('heart_failure_signs', 30, FALSE), ('uncontrolled_ventricular_arrhythmia', 30, FALSE),
    ('severe_psychiatric_disorder', 30, FALSE), ('sle_treatment_ongoing', 30, FALSE),
    ('in_other_study', 30, FALSE), ('legal_protection', 30, FALSE), ('informed_consent', NULL, TRUE),
    ('social_security', NULL, TRUE), ('national_register_exclusion', NULL, TRUE),
    ('incapacity_to_consent', NULL, TRUE), ('poor_compliance', NULL, TRUE)
) f(name, max_age, person_only) ON f.name = s.name
WHERE (f.max_age IS NULL OR s.date IS NULL OR date_diff('day', s.date, DATE '{as_of}') <= f.max_age)
  AND (NOT f.person_only OR s.confirmed);

-- one row per patient: facts, with the declared contradiction (a "not pregnant" status and a
-- positive hCG test at most 7 days apart: both set aside) and the derived values
CREATE OR REPLACE TEMP TABLE pf AS
WITH o AS (
    SELECT pid,
        max(num) FILTER (WHERE name = 'weight') AS weight,
        max(num) FILTER (WHERE name = 'height') AS height,
        max(num) FILTER (WHERE name = 'creatinine') AS creatinine,
        max(num) FILTER (WHERE name = 'creatinine_clearance_measured') AS crcl_measured,
        max(num) FILTER (WHERE name = 'ast') AS ast,
        max(ref_high) FILTER (WHERE name = 'ast') AS ast_ref_high,
        bool_or(to_sle) FILTER (WHERE name = 'ast') AS ast_to_sle,
        max(num) FILTER (WHERE name = 'alt') AS alt,
        max(ref_high) FILTER (WHERE name = 'alt') AS alt_ref_high,
        bool_or(to_sle) FILTER (WHERE name = 'alt') AS alt_to_sle,
        max(num) FILTER (WHERE name = 'neutrophils') AS neutrophils,
        bool_or(to_sle) FILTER (WHERE name = 'neutrophils') AS neutrophils_to_sle,
        max(num) FILTER (WHERE name = 'platelets') AS platelets,
        bool_or(to_sle) FILTER (WHERE name = 'platelets') AS platelets_to_sle,
        max(num) FILTER (WHERE name = 'hemoglobin') AS hemoglobin,
        bool_or(to_sle) FILTER (WHERE name = 'hemoglobin') AS hemoglobin_to_sle,
        max(num) FILTER (WHERE name = 'cd4') AS cd4,
        bool_or(to_sle) FILTER (WHERE name = 'cd4') AS cd4_to_sle,
        max(num) FILTER (WHERE name = 'lvef') AS lvef,
        max(num) FILTER (WHERE name = 'pap_mean') AS pap_mean,
        max(num) FILTER (WHERE name = 'pao2') AS pao2,
        bool_or(on_oxygen) FILTER (WHERE name = 'pao2') AS pao2_on_oxygen,
        max(num) FILTER (WHERE name = 'paco2') AS paco2,
        max(CASE WHEN ever_positive THEN 'positive' ELSE txt END) FILTER (WHERE name = 'ana') AS ana,
        max(txt) FILTER (WHERE name = 'hiv') AS hiv,
        max(txt) FILTER (WHERE name = 'htlv') AS htlv,
        max(txt) FILTER (WHERE name = 'hbsag') AS hbsag,
        max(txt) FILTER (WHERE name = 'hcv_rna') AS hcv_rna,
        max(txt) FILTER (WHERE name = 'hcv_antibody') AS hcv_antibody,
        max(txt) FILTER (WHERE name = 'anti_hbc') AS anti_hbc,
        max(txt) FILTER (WHERE name = 'pregnancy_test') AS pregnancy_test,
        max(date) FILTER (WHERE name = 'pregnancy_test') AS pregnancy_test_date
    FROM obs GROUP BY pid
), s AS (
    SELECT pid,
        bool_or(v) FILTER (WHERE name = 'pregnant') AS pregnant,
        max(date) FILTER (WHERE name = 'pregnant') AS pregnant_date,
        bool_or(v) FILTER (WHERE name = 'breastfeeding') AS breastfeeding,
        bool_or(v) FILTER (WHERE name = 'childbearing_potential') AS childbearing_potential,
        bool_or(v) FILTER (WHERE name = 'contraception_required') AS contraception_required,
        bool_or(v) FILTER (WHERE name = 'effective_contraception') AS effective_contraception,
        bool_or(v) FILTER (WHERE name = 'heart_failure_signs') AS heart_failure_signs,
        bool_or(v) FILTER (WHERE name = 'uncontrolled_ventricular_arrhythmia') AS uncontrolled_va,
        bool_or(v) FILTER (WHERE name = 'severe_psychiatric_disorder') AS severe_psychiatric,
        bool_or(v) FILTER (WHERE name = 'sle_treatment_ongoing') AS sle_treatment_ongoing,
        bool_or(v) FILTER (WHERE name = 'in_other_study') AS in_other_study,
        bool_or(v) FILTER (WHERE name = 'legal_protection') AS legal_protection,
        bool_or(v) FILTER (WHERE name = 'informed_consent') AS informed_consent,
        bool_or(v) FILTER (WHERE name = 'social_security') AS social_security,
        bool_or(v) FILTER (WHERE name = 'national_register_exclusion') AS national_register_exclusion,
        bool_or(v) FILTER (WHERE name = 'incapacity_to_consent') AS incapacity_to_consent,
        bool_or(v) FILTER (WHERE name = 'poor_compliance') AS poor_compliance
    FROM st GROUP BY pid
), a AS (
    SELECT pid, arg_max(score, date_diff('day', DATE '1970-01-01', date) * 100000 + seq) AS sledai,
           max(date) AS sledai_date
    FROM {assessments} WHERE name = 'selena_sledai' AND date <= DATE '{as_of}' GROUP BY pid
), j AS (
    SELECT p.pid, p.patient_id, p.sex, p.birth_date, o.* EXCLUDE (pid), s.* EXCLUDE (pid),
           CASE WHEN date_diff('day', a.sledai_date, DATE '{as_of}') <= 30 THEN a.sledai END AS sledai,
           -- a "not pregnant" status and a positive hCG test within 7 days contradict each other
           coalesce(s.pregnant = FALSE AND o.pregnancy_test = 'positive'
                    AND coalesce(abs(date_diff('day', s.pregnant_date, o.pregnancy_test_date)) <= 7, TRUE),
                    FALSE) AS contradiction
    FROM {patients} p LEFT JOIN o ON o.pid = p.pid LEFT JOIN s ON s.pid = p.pid LEFT JOIN a ON a.pid = p.pid
)
SELECT * EXCLUDE (pregnant, pregnancy_test, contradiction),
       CASE WHEN NOT contradiction THEN pregnant END AS pregnant,
       CASE WHEN NOT contradiction THEN pregnancy_test END AS pregnancy_test,
       datesub('year', birth_date, DATE '{as_of}') AS age,
       sqrt(height * weight / 3600.0) AS bsa
FROM j;

CREATE OR REPLACE TEMP TABLE pd AS
SELECT *,
       CASE WHEN age >= 0 AND age < 140 AND weight > 0 AND creatinine > 0 AND sex IN ('female', 'male')
            THEN (140 - age) * weight / (72 * creatinine) * CASE WHEN sex = 'female' THEN 0.85 ELSE 1 END END
           AS crcl_cg,
       ast / coalesce(ast_ref_high, 40) AS ast_uln,
       alt / coalesce(alt_ref_high, 40) AS alt_uln
FROM pf;

-- medication periods at the screening date: ongoing, last dose, duration, doses per day / week /
-- month, administrations, outcome, and the doses the criteria compare (BNF prednisone equivalent,
-- MMF equivalent, per kg of the current weight, per m2 of BSA)
CREATE OR REPLACE TEMP TABLE mp AS
WITH adm AS (
    SELECT pid, med_seq, count(*) FILTER (WHERE date <= DATE '{as_of}') AS n,
           max(date) FILTER (WHERE date <= DATE '{as_of}') AS last_adm, count(*) AS n_all
    FROM {administrations} GROUP BY pid, med_seq
), m AS (
    SELECT m.*, a.n, a.last_adm,
           m.frequency = 'once' OR (m.frequency IS NULL AND coalesce(a.n_all, 0) > 0) AS single,
           CASE WHEN m."end" <= DATE '{as_of}' THEN m."end" END AS end_
    FROM {medications} m LEFT JOIN adm a ON a.pid = m.pid AND a.med_seq = m.seq
    WHERE m.start <= DATE '{as_of}'
), m2 AS (
    SELECT *, NOT single AND (end_ IS NULL) AS ongoing,
           CASE WHEN single THEN coalesce(last_adm, start)
                WHEN end_ IS NULL THEN DATE '{as_of}' ELSE coalesce(last_adm, end_) END AS last_dose,
           CASE WHEN frequency <> 'once' THEN dose_mg * CASE frequency
                WHEN 'daily' THEN 1.0 WHEN 'bid' THEN 2.0 WHEN 'tid' THEN 3.0 WHEN 'qid' THEN 4.0
                WHEN 'weekly' THEN 1 / 7.0 WHEN 'every_2_weeks' THEN 1 / 14.0 WHEN 'every_4_weeks' THEN 1 / 28.0
                WHEN 'monthly' THEN 12 / 365.25 END END AS daily
    FROM m
)
SELECT m2.pid, m2.seq, drug, dose_mg, route, frequency, start, outcome, ongoing, last_dose,
       date_diff('day', start, CASE WHEN ongoing THEN DATE '{as_of}' ELSE coalesce(end_, last_dose, start) END) + 1
           AS duration_days,
       daily, daily * 7 AS weekly, daily * 365.25 / 12 AS monthly,
       CASE WHEN n > 0 THEN n WHEN frequency = 'once' THEN 1 END AS administrations,
       CASE WHEN outcome IS NOT NULL THEN outcome IN ('inefficacy', 'adverse_effect') END AS failed,
       daily * CASE drug WHEN 'prednisone' THEN 1.0 WHEN 'prednisolone' THEN 1.0
           WHEN 'methylprednisolone' THEN 5 / 4.0 WHEN 'dexamethasone' THEN 5 / 0.75
           WHEN 'hydrocortisone' THEN 5 / 20.0 WHEN 'deflazacort' THEN 5 / 6.0
           WHEN 'betamethasone' THEN 5 / 0.75 WHEN 'triamcinolone' THEN 5 / 4.0 END AS pred_eq,
       daily * CASE drug WHEN 'mycophenolate_mofetil' THEN 1.0 WHEN 'mycophenolic_acid' THEN 1000 / 720.0 END
           AS mmf_eq,
       drug IN ('prednisone', 'prednisolone', 'methylprednisolone', 'dexamethasone', 'hydrocortisone',
                'deflazacort', 'betamethasone', 'triamcinolone', 'hydroxychloroquine', 'chloroquine',
                'cyclophosphamide', 'mycophenolate_mofetil', 'mycophenolic_acid', 'azathioprine', 'methotrexate',
                'leflunomide', 'cyclosporine', 'tacrolimus', 'belimumab', 'anifrolumab') AS sle_drug,
       CASE WHEN pd.weight > 0 THEN daily / pd.weight END AS mg_kg_day,
       CASE WHEN pd.weight > 0 THEN dose_mg / pd.weight END AS mg_kg_dose,
       CASE WHEN pd.bsa > 0 THEN dose_mg / pd.bsa END AS mg_m2_dose
FROM m2 JOIN pd ON pd.pid = m2.pid;

-- cumulative days at dose: for each period x, the run of periods of the same drug around it at
-- x's daily dose or more, each starting at most a day after the run so far ends; calendar days
-- counted once (periods may overlap)
CREATE OR REPLACE TEMP TABLE cum AS
WITH per AS (
    SELECT pid, seq, drug, daily AS q, start, start + CAST(duration_days - 1 AS INTEGER) AS last_day,
           row_number() OVER (PARTITION BY pid, drug ORDER BY start, seq) AS k
    FROM mp WHERE daily IS NOT NULL
), pairs AS (
    SELECT x.pid, x.seq, x.k AS xk, y.k, y.start, y.last_day, y.q < x.q AS low,
           -- a break before y: a lower dose, or a gap of more than a day after the periods before it
           (y.q < x.q OR date_diff('day', max(y.last_day) OVER (PARTITION BY x.pid, x.seq ORDER BY y.k
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), y.start) > 1) AS brk
    FROM per x JOIN per y ON y.pid = x.pid AND y.drug = x.drug
), runs AS (
    SELECT *, sum(CASE WHEN brk THEN 1 ELSE 0 END) OVER (PARTITION BY pid, seq ORDER BY k) AS run
    FROM pairs
), members AS (
    SELECT r.pid, r.seq, r.start, r.last_day,
           max(r.last_day) OVER (PARTITION BY r.pid, r.seq ORDER BY r.start, r.k
                                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before_end
    FROM runs r JOIN runs x ON x.pid = r.pid AND x.seq = r.seq AND x.k = x.xk
    WHERE r.run = x.run AND NOT r.low
)
SELECT pid, seq,
       sum(greatest(0, date_diff('day', greatest(start - 1, coalesce(before_end, start - 1)), last_day))) AS days
FROM members GROUP BY pid, seq;

CREATE OR REPLACE TEMP TABLE ex AS
SELECT mp.*, CASE WHEN daily IS NOT NULL THEN cum.days END AS cum_days
FROM mp LEFT JOIN cum ON cum.pid = mp.pid AND cum.seq = mp.seq;

-- the quantifiers over medication periods and conditions, one row per patient (a patient without
-- any period or condition has one row of NULLs here: no member, so the 'absent' value)
CREATE OR REPLACE TEMP TABLE q AS
WITH e AS (
    SELECT pd.pid,
        ex3(route IN ('oral', 'iv', 'im', 'sc') AND pred_eq >= 6 AND cum_days >= 28 AND failed = TRUE,
            drug IN ('prednisone', 'prednisolone', 'methylprednisolone', 'dexamethasone', 'hydrocortisone',
                     'deflazacort', 'betamethasone', 'triamcinolone'), NULL) AS i4a,
        ex3(failed = TRUE AND route IN ('oral', 'iv', 'im', 'sc') AND (
               (drug = 'cyclophosphamide' AND route = 'iv' AND monthly >= 500
                    AND (administrations >= 3 OR duration_days >= 90))
            OR (drug IN ('mycophenolate_mofetil', 'mycophenolic_acid') AND mmf_eq > 2000 AND cum_days >= 90)
            OR (drug = 'azathioprine' AND mg_kg_day > 2 AND cum_days >= 90)
            OR (drug = 'methotrexate' AND weekly > 20 AND cum_days >= 90)
            OR (drug = 'leflunomide' AND daily > 10 AND cum_days >= 90)
            OR (drug = 'rituximab' AND route = 'iv' AND ((mg_m2_dose >= 375 AND administrations >= 4)
                                                      OR (dose_mg >= 1000 AND administrations >= 2)))
            OR (drug = 'cyclosporine' AND mg_kg_day >= 2.5 AND mg_kg_day <= 5 AND cum_days >= 90)
            OR (drug = 'belimumab' AND route = 'iv' AND mg_kg_dose >= 10 AND duration_days >= 90)),
            drug IN ('cyclophosphamide', 'mycophenolate_mofetil', 'mycophenolic_acid', 'azathioprine',
                     'methotrexate', 'leflunomide', 'rituximab', 'cyclosporine', 'belimumab'), NULL) AS i4b,
        ex3(route NOT IN ('oral', 'iv', 'im', 'sc', 'topical', 'inhaled', 'other'), ongoing AND sle_drug, FALSE)
            AS i5_odd_route,
        every3(start <= DATE '{as_of}' - INTERVAL 30 DAY,
               ongoing AND route IN ('oral', 'iv', 'im', 'sc') AND sle_drug, NULL) AS i5_stable,
        ex3(TRUE, ongoing AND route IN ('oral', 'iv', 'im', 'sc') AND sle_drug, NULL) AS i5_current,
        ex3(last_dose >= DATE '{as_of}' - INTERVAL 2 MONTH, drug = 'belimumab', FALSE) AS e10_belimumab,
        ex3(last_dose >= DATE '{as_of}' - INTERVAL 6 MONTH,
            drug IN ('rituximab', 'ocrelizumab', 'ofatumumab', 'obinutuzumab', 'ublituximab', 'inebilizumab',
                     'alemtuzumab'), FALSE) AS e10_bcell,
        ex3(TRUE, ongoing IN (TRUE, FALSE), NULL) AS e10_history
    FROM pd LEFT JOIN ex ON ex.pid = pd.pid GROUP BY pd.pid
), c AS (
    SELECT pd.pid,
        ex3(classification IN ('acr_1997', 'acr_1982') AND criteria_met >= 4, name = 'sle', FALSE) AS i2_sle,
        ex3(active, name = 'heart_failure', FALSE) AS heart_failure,
        ex3(active AND controlled = FALSE, name = 'ventricular_arrhythmia', FALSE) AS uncontrolled_va_dx,
        ex3(active AND severity = 'severe',
            name IN ('psychotic_disorder', 'neuropsychiatric_lupus', 'severe_psychiatric_disorder'), FALSE)
            AS severe_psychiatric_dx,
        ex3(active AND (name = 'myelodysplasia'
                        OR type NOT IN ('basal_cell_carcinoma', 'squamous_cell_carcinoma_skin',
                                        'carcinoma_in_situ_cervix')),
            name IN ('neoplasia', 'myelodysplasia'), FALSE) AS neoplasia,
        ex3(active, name IN ('hiv_infection', 'chronic_hepatitis_b'), FALSE) AS hiv_hbv_dx,
        ex3(active OR "end" >= DATE '{as_of}' - INTERVAL 60 DAY,
            name IN ('substance_abuse', 'alcohol_abuse', 'drug_abuse'), FALSE) AS substance_abuse,
        ex3(TRUE, status IN ('active', 'resolved'), NULL) AS diagnosis_list
    FROM pd LEFT JOIN (
        SELECT *, CASE WHEN "end" <= DATE '{as_of}' THEN 'resolved' ELSE status END AS status_,
               status = 'active' AND NOT coalesce("end" <= DATE '{as_of}', FALSE) AS active
        FROM {conditions} WHERE onset IS NULL OR onset <= DATE '{as_of}'
    ) x ON x.pid = pd.pid GROUP BY pd.pid
)
SELECT e.*, c.* EXCLUDE (pid) FROM e JOIN c ON c.pid = e.pid;

-- the criteria, in the rule file's order
CREATE OR REPLACE TEMP TABLE baseline AS
SELECT pd.pid, pd.patient_id,
    word_in(age >= 18 AND age < 70) AS I1,
    word_in(i2_sle AND ana = 'positive') AS I2,
    word_in(sledai >= 6) AS I3,
    word_in(i4a) AS I4a,
    word_in(i4b) AS I4b,
    word_in(NOT i5_odd_route AND coalesce(i5_stable, sle_treatment_ongoing = TRUE AND i5_current)) AS I5,
    word_in(coalesce(NOT (pregnancy_test = 'positive' AND sex = 'female'),
                     sex = 'male' OR childbearing_potential = FALSE OR pregnancy_test = 'negative')) AS I6,
    word_in(contraception_required = FALSE OR effective_contraception = TRUE) AS I7,
    word_in(informed_consent = TRUE) AS I8,
    word_in(social_security = TRUE) AS I9,
    word_ex((sex = 'female' AND pregnant = TRUE)
            OR (sex = 'female' AND coalesce(pregnancy_test = 'positive', pregnant = TRUE))
            OR (sex = 'female' AND breastfeeding = TRUE)
            OR (contraception_required = TRUE AND effective_contraception = FALSE)) AS E1,
    word_ex(coalesce(crcl_measured < 30, crcl_cg < 30)) AS E2,
    word_ex(coalesce(heart_failure_signs = TRUE, heart_failure) OR lvef < 40
            OR coalesce(uncontrolled_va = TRUE, uncontrolled_va_dx)) AS E3,
    word_ex((ast_uln > 2 AND ast_to_sle = FALSE) OR (alt_uln > 2 AND alt_to_sle = FALSE)) AS E4,
    word_ex(pap_mean > 50 OR pao2 < 70 OR paco2 > 50
            OR CASE WHEN pao2 IS NOT NULL AND pao2_on_oxygen = FALSE THEN FALSE END) AS E5,
    word_ex(coalesce(severe_psychiatric = TRUE,
                     severe_psychiatric_dx OR NOT diagnosis_list)) AS E6,
    word_ex(neoplasia OR NOT diagnosis_list) AS E7,
    word_ex((neutrophils < 0.5 AND neutrophils_to_sle = FALSE) OR (platelets < 30 AND platelets_to_sle = FALSE)
            OR (hemoglobin < 8 AND hemoglobin_to_sle = FALSE) OR (cd4 < 200 AND cd4_to_sle = FALSE)) AS E8,
    word_ex(hiv_hbv_dx OR hiv = 'positive' OR htlv = 'positive'
            OR coalesce(hbsag = 'positive', CASE WHEN anti_hbc = 'negative' THEN FALSE END)
            OR coalesce(hcv_rna = 'positive', CASE WHEN hcv_antibody = 'negative' THEN FALSE END)) AS E9,
    word_ex(e10_belimumab OR e10_bcell OR NOT e10_history) AS E10,
    word_ex(substance_abuse OR NOT diagnosis_list) AS E11,
    word_ex(national_register_exclusion = TRUE) AS E12,
    word_ex(incapacity_to_consent = TRUE) AS E13,
    word_ex(in_other_study = TRUE) AS E14,
    word_ex(poor_compliance = TRUE) AS E15,
    word_ex(legal_protection = TRUE) AS E16
FROM pd JOIN q ON q.pid = pd.pid;
