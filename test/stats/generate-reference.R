# Generates test/fixtures/stats-reference.json: reference values for src/stats computed by R's own
# stats package (t.test, prop.test, chisq.test, power.prop.test, power.t.test), so the TypeScript
# implementation is checked against an independent, widely used one.
# Run: Rscript test/stats/generate-reference.R > test/fixtures/stats-reference.json
options(digits = 17)
set.seed(20261126)
num <- function(x) format(x, digits = 17, scientific = TRUE)
vec <- function(x) paste0("[", paste(sapply(x, num), collapse = ", "), "]")
str <- function(s) paste0('"', gsub('"', '\\\\"', s), '"')
obj <- function(...) {
  fields <- list(...)
  paste0("{", paste(sprintf('"%s": %s', names(fields), unlist(fields)), collapse = ", "), "}")
}
r3 <- function(x) round(x, 3)

# ---- Welch two-sample t: R t.test(b, a) so estimates and CI are for mean(b) - mean(a)
welch_cases <- list(
  list(name = "n = 5 per arm", a = c(19.8, 20.4, 19.6, 17.8, 18.5), b = c(28.2, 26.6, 20.1, 23.3, 25.2)),
  list(name = "unequal variances and sizes (sd 1 vs 9, n 12 vs 25)", a = r3(rnorm(12, 10, 1)), b = r3(rnorm(25, 12, 9))),
  list(name = "extreme p-value (< 1e-6)", a = r3(rnorm(40, 100, 5)), b = r3(rnorm(35, 110, 6))),
  list(name = "no difference (p near 1)", a = r3(rnorm(50, 3, 2)), b = r3(rnorm(60, 3, 2))),
  list(name = "large samples, small effect", a = r3(rnorm(200, 50, 10)), b = r3(rnorm(200, 52.5, 12))),
  list(name = "n = 5 vs n = 8, treatment worse", a = c(3.1, 2.8, 3.6, 3.3, 2.9), b = c(2.1, 2.6, 1.8, 2.9, 2.2, 2.4, 1.9, 2.7))
)
welch <- sapply(welch_cases, function(cs) {
  tt <- t.test(cs$b, cs$a, var.equal = FALSE, conf.level = 0.95)
  obj(name = str(cs$name), r = str("t.test(b, a, var.equal = FALSE)"), a = vec(cs$a), b = vec(cs$b),
      statistic = num(unname(tt$statistic)), df = num(unname(tt$parameter)), pValue = num(tt$p.value),
      differenceCi = vec(tt$conf.int))
})

# ---- Two-proportion z: prop.test without continuity correction; X-squared = z^2, CI is Wald for b - a
prop_cases <- list(
  list(name = "n = 5 per arm", a = c(1, 5), b = c(4, 5)),
  list(name = "moderate, significant", a = c(120, 1000), b = c(155, 1000)),
  list(name = "unequal arms", a = c(45, 300), b = c(310, 2400)),
  list(name = "extreme p-value (< 1e-6)", a = c(500, 10000), b = c(700, 10000)),
  list(name = "no difference", a = c(210, 2000), b = c(209, 2010)),
  list(name = "low rate, large n", a = c(31, 25000), b = c(58, 25000))
)
prop <- sapply(prop_cases, function(cs) {
  pt <- suppressWarnings(prop.test(x = c(cs$b[1], cs$a[1]), n = c(cs$b[2], cs$a[2]), correct = FALSE))
  obj(name = str(cs$name), r = str("prop.test(c(xb, xa), c(nb, na), correct = FALSE)"),
      a = obj(successes = num(cs$a[1]), trials = num(cs$a[2])), b = obj(successes = num(cs$b[1]), trials = num(cs$b[2])),
      chiSquared = num(unname(pt$statistic)), pValue = num(pt$p.value), differenceCi = vec(pt$conf.int))
})

# ---- SRM: Pearson chi-squared goodness of fit against the configured weights
srm_cases <- list(
  list(name = "52/48 over 20 000 units on a 50/50 split", counts = c(10400, 9600), weights = c(0.5, 0.5)),
  list(name = "true 50/50 split, 20 000 units", counts = c(10037, 9963), weights = c(0.5, 0.5)),
  list(name = "80/20 split on target", counts = c(8012, 1988), weights = c(0.8, 0.2)),
  list(name = "three variants, one starved", counts = c(3400, 3300, 3050), weights = c(1, 1, 1)),
  list(name = "extreme mismatch (p < 1e-6)", counts = c(5600, 4400), weights = c(0.5, 0.5)),
  list(name = "unnormalised weights 2:1:1", counts = c(1010, 480, 530), weights = c(2, 1, 1))
)
srm <- sapply(srm_cases, function(cs) {
  ct <- chisq.test(cs$counts, p = cs$weights, rescale.p = TRUE)
  obj(name = str(cs$name), r = str("chisq.test(counts, p = weights, rescale.p = TRUE)"),
      counts = vec(cs$counts), weights = vec(cs$weights),
      statistic = num(unname(ct$statistic)), df = num(unname(ct$parameter)), pValue = num(ct$p.value))
})

# ---- Sample size for two proportions: power.prop.test (Fleiss without continuity correction)
pp_cases <- list(
  list(p1 = 0.10, p2 = 0.12, power = 0.8, alpha = 0.05),
  list(p1 = 0.05, p2 = 0.06, power = 0.8, alpha = 0.05),
  list(p1 = 0.30, p2 = 0.33, power = 0.9, alpha = 0.05),
  list(p1 = 0.50, p2 = 0.55, power = 0.8, alpha = 0.01),
  list(p1 = 0.02, p2 = 0.025, power = 0.95, alpha = 0.05),
  list(p1 = 0.20, p2 = 0.15, power = 0.8, alpha = 0.05)
)
pp <- sapply(pp_cases, function(cs) {
  res <- power.prop.test(p1 = cs$p1, p2 = cs$p2, power = cs$power, sig.level = cs$alpha, tol = 1e-12)
  obj(r = str("power.prop.test(p1, p2, power, sig.level, tol = 1e-12)"), p1 = num(cs$p1), p2 = num(cs$p2),
      power = num(cs$power), alpha = num(cs$alpha), n = num(res$n))
})

# ---- Minimum detectable p2 for a given n: power.prop.test solving for p2
mde_cases <- list(
  list(p1 = 0.10, n = 3000, power = 0.8, alpha = 0.05),
  list(p1 = 0.05, n = 20000, power = 0.8, alpha = 0.05),
  list(p1 = 0.30, n = 500, power = 0.9, alpha = 0.05),
  list(p1 = 0.50, n = 1000, power = 0.8, alpha = 0.01),
  list(p1 = 0.02, n = 100000, power = 0.8, alpha = 0.05)
)
mde <- sapply(mde_cases, function(cs) {
  res <- power.prop.test(n = cs$n, p1 = cs$p1, power = cs$power, sig.level = cs$alpha, tol = 1e-12)
  obj(r = str("power.prop.test(n, p1, power, sig.level, tol = 1e-12)"), p1 = num(cs$p1), n = num(cs$n),
      power = num(cs$power), alpha = num(cs$alpha), p2 = num(res$p2))
})

# ---- Continuous sample size: power.t.test (exact noncentral t); ours is the normal approximation
pt_cases <- list(
  list(delta = 0.1, sd = 1, power = 0.8, alpha = 0.05),
  list(delta = 0.05, sd = 1, power = 0.9, alpha = 0.05),
  list(delta = 2, sd = 25, power = 0.8, alpha = 0.05),
  list(delta = 0.2, sd = 1, power = 0.8, alpha = 0.01),
  list(delta = 1, sd = 4, power = 0.95, alpha = 0.05)
)
ptt <- sapply(pt_cases, function(cs) {
  res <- power.t.test(delta = cs$delta, sd = cs$sd, power = cs$power, sig.level = cs$alpha, tol = 1e-12)
  obj(r = str("power.t.test(delta, sd, power, sig.level, tol = 1e-12)"), delta = num(cs$delta), sd = num(cs$sd),
      power = num(cs$power), alpha = num(cs$alpha), n = num(res$n))
})

# ---- One-sample t interval of a mean (t.test(x)) and Wilson score interval (prop.test(x, n, correct = FALSE))
tci_cases <- list(c(19.8, 20.4, 19.6, 17.8, 18.5), r3(rnorm(12, 10, 1)), r3(rnorm(30, -4, 7)), r3(rnorm(200, 0.5, 0.1)), c(1, 1, 1, 2, 9))
tci <- sapply(tci_cases, function(x) {
  obj(r = str("t.test(x)$conf.int"), x = vec(x), ci = vec(t.test(x)$conf.int))
})
wilson_cases <- list(c(0, 5), c(4, 5), c(120, 1000), c(3, 25000), c(999, 1000))
wilson <- sapply(wilson_cases, function(cs) {
  obj(r = str("prop.test(x, n, correct = FALSE)$conf.int"), successes = num(cs[1]), trials = num(cs[2]),
      ci = vec(suppressWarnings(prop.test(cs[1], cs[2], correct = FALSE))$conf.int))
})

# ---- Sequential: the asymptotic confidence sequence of Waudby-Smith et al. (arXiv:2103.06476) as
# GrowthBook's gbstats states it, evaluated here in R from its formula (an independent evaluation of
# the same formula, not a second implementation of the method). Inputs are summaries (n, mean, sd).
seq_cases <- list(
  list(a = c(3000, 0.46562, 4.17), b = c(3461, 0.7, 6.2), tuning = 5000, alpha = 0.05, difference = "absolute"),
  list(a = c(20000, 10, 3), b = c(20000, 10.1, 3), tuning = 5000, alpha = 0.05, difference = "absolute"),
  list(a = c(500, 2, 1), b = c(480, 2.05, 1.3), tuning = 1000, alpha = 0.1, difference = "relative"),
  list(a = c(100000, 1, 2), b = c(100000, 1.04, 2), tuning = 200000, alpha = 0.01, difference = "relative"),
  list(a = c(8000, 5, 2), b = c(8100, 5.15, 2.4), tuning = 10000, alpha = 0.05, difference = "absolute")
)
seqv <- sapply(seq_cases, function(cs) {
  n <- cs$a[1] + cs$b[1]
  va <- cs$a[3]^2 / cs$a[1]; vb <- cs$b[3]^2 / cs$b[1]
  diff <- cs$b[2] - cs$a[2]; se_abs <- sqrt(va + vb)
  lift <- diff / cs$a[2]; se_rel <- sqrt(vb / cs$a[2]^2 + va * cs$b[2]^2 / cs$a[2]^4)
  l <- -2 * log(cs$alpha); rho <- sqrt((l + log(l + 1)) / cs$tuning)
  width <- function(se) sqrt(se^2 * n) * sqrt(2 * (n * rho^2 + 1) * log(sqrt(n * rho^2 + 1) / cs$alpha) / (n * rho)^2)
  est <- if (cs$difference == "absolute") diff else lift
  se <- if (cs$difference == "absolute") se_abs else se_rel
  st2 <- est^2 * n / se^2
  p <- min(1, 1 / (exp(rho^2 * st2 / (2 * (n * rho^2 + 1))) / sqrt(n * rho^2 + 1)))
  summ <- function(v) obj(count = num(v[1]), mean = num(v[2]), m2 = num(v[3]^2 * (v[1] - 1)))
  obj(a = summ(cs$a), b = summ(cs$b), tuning = num(cs$tuning), alpha = num(cs$alpha), difference = str(cs$difference),
      differenceCi = vec(c(diff - width(se_abs), diff + width(se_abs))), liftCi = vec(c(lift - width(se_rel), lift + width(se_rel))),
      pValue = num(p))
})

cat(paste0('{\n  "specVersion": 1,\n  "source": ', str(R.version.string), ',\n',
           '  "generator": "test/stats/generate-reference.R",\n',
           '  "welch": [\n    ', paste(welch, collapse = ",\n    "), '\n  ],\n',
           '  "proportions": [\n    ', paste(prop, collapse = ",\n    "), '\n  ],\n',
           '  "srm": [\n    ', paste(srm, collapse = ",\n    "), '\n  ],\n',
           '  "sampleSizeProportions": [\n    ', paste(pp, collapse = ",\n    "), '\n  ],\n',
           '  "mdeProportions": [\n    ', paste(mde, collapse = ",\n    "), '\n  ],\n',
           '  "sampleSizeMeans": [\n    ', paste(ptt, collapse = ",\n    "), '\n  ],\n',
           '  "meanCi": [\n    ', paste(tci, collapse = ",\n    "), '\n  ],\n',
           '  "wilsonCi": [\n    ', paste(wilson, collapse = ",\n    "), '\n  ],\n',
           '  "sequential": [\n    ', paste(seqv, collapse = ",\n    "), '\n  ]\n}\n'))
