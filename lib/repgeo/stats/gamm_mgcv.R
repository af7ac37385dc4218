# GAMMs of layer-activation time series with mgcv (the trusted engine of repgeo.stats.gamm).
#
# Model, per layer (Soskuthy 2017 arXiv:1703.05339 and 2021 J. Phonetics 84; Wieling 2018
# J. Phonetics 70; Begus & Zhou, ICASSP 2022, Table 1 / Figures 3-4):
#   difference model  value ~ factorO + s(time, k) + s(time, by = factorO, k)
#                             + s(time, token, bs = "fs", m = 1, k = k_random)
#   by-level model    value ~ factor + s(time, by = factor, k) + s(time, token, bs = "fs", m = 1)
# factorO is the factor as an ordered factor with treatment contrasts, so s(time):factorO<level>
# is the difference between a level's curve and the reference's, and its test (Wood 2013,
# Biometrika 100(1)) asks whether the level's shape differs from the reference's. Both models are
# fitted with bam(method = "fREML", discrete = FALSE) and AR(1) residuals within token: rho is
# the lag-1 autocorrelation of the residuals of the by-level model fitted without AR (what
# itsadug::start_value_rho returns), AR.start marks each token's first row, rows sorted by token
# then time. Only base R and mgcv are used (itsadug and gratia are not packaged in Debian).
# A level's curve is the mean of its tokens' fitted curves (repgeo_gamm_level_curve explains why
# not the fixed effects alone); settings record shared_random_max, the largest gap between the two.
#
# Use from R (e.g. a Snakemake script:):
#   source("lib/repgeo/stats/gamm_mgcv.R")
#   repgeo_gamm_fit("layer.csv", "out/", factor = "word", reference = "ask")
# Use from a shell (what the Python wrapper does):
#   Rscript lib/repgeo/stats/gamm_mgcv.R layer.csv out/ factor=word reference=ask k=10
# Either way out/ receives parametric.csv, smooths.csv, curves.csv, differences.csv, settings.csv.

suppressPackageStartupMessages(library(mgcv))

repgeo_gamm_defaults <- list(
  factor = "word", reference = "ask", time = "time", token = "token", value = "value",
  k = 10L, k_random = 5L, random_smooths = TRUE, ar1 = TRUE, grid = 100L
)

# Long data sorted by token then time, with the factor (reference first), its ordered twin with
# treatment contrasts, the token factor and the AR.start indicator.
repgeo_gamm_prepare <- function(data, s) {
  if (is.character(data)) {
    data <- read.csv(data, colClasses = setNames(c("character", "character"), c(s$factor, s$token)))
  }
  missing <- setdiff(c(s$factor, s$token, s$time, s$value), names(data))
  if (length(missing)) stop("missing columns: ", paste(missing, collapse = ", "))
  d <- data.frame(
    token = factor(as.character(data[[s$token]])),
    level = as.character(data[[s$factor]]),
    time = as.numeric(data[[s$time]]),
    value = as.numeric(data[[s$value]])
  )
  if (!(s$reference %in% d$level)) stop("reference level '", s$reference, "' is not a level of ", s$factor)
  d <- d[order(d$token, d$time), ]
  levels <- c(s$reference, sort(setdiff(unique(d$level), s$reference)))
  out <- data.frame(row.names = NULL, d$token, factor(d$level, levels = levels), d$time, d$value)
  names(out) <- c(s$token, s$factor, s$time, s$value)
  ordered_name <- paste0(s$factor, "O")
  out[[ordered_name]] <- as.ordered(out[[s$factor]])
  contrasts(out[[ordered_name]]) <- "contr.treatment"
  out$.ar_start <- !duplicated(out[[s$token]])
  out
}

repgeo_gamm_formulas <- function(s) {
  random <- if (s$random_smooths) {
    sprintf(' + s(%s, %s, bs = "fs", m = 1, k = %d)', s$time, s$token, as.integer(s$k_random))
  } else ""
  fo <- paste0(s$factor, "O")
  list(
    by_level = as.formula(sprintf("%s ~ %s + s(%s, by = %s, k = %d)%s",
                                  s$value, s$factor, s$time, s$factor, as.integer(s$k), random)),
    difference = as.formula(sprintf("%s ~ %s + s(%s, k = %d) + s(%s, by = %s, k = %d)%s",
                                    s$value, fo, s$time, as.integer(s$k), s$time, fo, as.integer(s$k), random))
  )
}

repgeo_gamm_bam <- function(formula, d, rho) {
  if (rho == 0) {
    bam(formula, data = d, method = "fREML", discrete = FALSE)
  } else {
    bam(formula, data = d, method = "fREML", discrete = FALSE, rho = rho, AR.start = .ar_start)
  }
}

# Linear-predictor matrix (X) of a level's population curve on the time grid: the mean, over the
# level's tokens, of their fitted curves (fixed effects plus each token's random factor smooth).
# mgcv's fs smooths carry no identifiability constraint (smooth.construct.fs.smooth.spec sets
# side.constrain = FALSE): only the penalty separates a level's fixed curve from the average of its
# tokens' random curves. When the level's by-level smooth (k basis functions) cannot follow the
# tokens' common shape, the tokens' random smooths take a common part and the fixed curve offsets
# it, so the fixed-effects-only prediction (exclude = the fs term, itsadug's rm.ranef) can leave the
# data entirely: default run, reference network, conv4, "ask": -1.42 (se 0.22) where the tokens'
# mean is 0.18, rho 0.93. The token average is the same fitted model read through an estimable
# function (sum over the level's tokens), so it stays on the data whatever the split; when the
# random curves of a level average to zero (an adequate k) it equals the fixed-effects curve.
# The standard error adds the spread of the tokens: var over the level's tokens of their fitted
# random curves, divided by their number (the population curve is a mean of sampled tokens), to
# the posterior variance (Vp) of the token average.
repgeo_gamm_level_curve <- function(model, d, s, level, times) {
  nd <- data.frame(times, factor(level, levels = levels(d[[s$factor]])), d[[s$token]][1])
  names(nd) <- c(s$time, s$factor, s$token)
  exclude <- if (s$random_smooths) sprintf("s(%s,%s)", s$time, s$token) else NULL
  fixed <- predict(model, newdata = nd, type = "lpmatrix", exclude = exclude)
  if (!s$random_smooths) return(list(X = fixed, fixed = fixed, between = rep(0, length(times))))
  tokens <- unique(as.character(d[[s$token]][d[[s$factor]] == level]))
  nd <- data.frame(rep(times, length(tokens)), factor(level, levels = levels(d[[s$factor]])),
                   factor(rep(tokens, each = length(times)), levels = levels(d[[s$token]])))
  names(nd) <- c(s$time, s$factor, s$token)
  X <- predict(model, newdata = nd, type = "lpmatrix")
  # Rows are token-major: one column of random-curve values per token.
  random <- matrix(drop((X - fixed[rep(seq_along(times), length(tokens)), , drop = FALSE]) %*% coef(model)),
                   nrow = length(times))
  between <- if (length(tokens) > 1) apply(random, 1, var) / length(tokens) else rep(0, length(times))
  list(X = rowsum(X, rep(seq_along(times), length(tokens)), reorder = FALSE) / length(tokens),
       fixed = fixed, between = between)
}

repgeo_gamm_tables <- function(m_diff, m_by, d, s) {
  sm <- summary(m_diff)
  pt <- sm$p.table
  parametric <- data.frame(term = rownames(pt), estimate = pt[, 1], se = pt[, 2], statistic = pt[, 3],
                           p = pt[, 4], test = "t", row.names = NULL)
  st <- sm$s.table
  smooths <- data.frame(term = rownames(st), edf = st[, "edf"], ref_df = st[, "Ref.df"],
                        statistic = st[, "F"], p = st[, "p-value"], test = "F (Wood 2013)", row.names = NULL)
  times <- seq(min(d[[s$time]]), max(d[[s$time]]), length.out = as.integer(s$grid))
  levels <- levels(d[[s$factor]])
  beta <- coef(m_by)
  parts <- lapply(levels, function(l) repgeo_gamm_level_curve(m_by, d, s, l, times))
  names(parts) <- levels
  # Size of the tokens' common random part (population curve minus fixed effects only), a
  # diagnostic of a by-level basis too small for the curves (raise k when it is not small).
  shared <- max(vapply(parts, function(p) max(abs((p$X - p$fixed) %*% beta)), 0))
  curves <- do.call(rbind, lapply(levels, function(l) {
    X <- parts[[l]]$X
    data.frame(level = l, time = times, fit = drop(X %*% beta),
               se = sqrt(rowSums((X %*% m_by$Vp) * X) + parts[[l]]$between))
  }))
  # Pointwise 95% bands, as itsadug::plot_diff draws them: difference of two levels' population
  # curves (above) and its standard error (Vp and the two levels' token spreads).
  differences <- do.call(rbind, lapply(levels[-1], function(l) {
    X <- parts[[l]]$X - parts[[s$reference]]$X
    fit <- drop(X %*% beta)
    se <- sqrt(rowSums((X %*% m_by$Vp) * X) + parts[[l]]$between + parts[[s$reference]]$between)
    data.frame(level = l, reference = s$reference, time = times, difference = fit, se = se,
               lower = fit - 1.96 * se, upper = fit + 1.96 * se)
  }))
  list(parametric = parametric, smooths = smooths, curves = curves, differences = differences,
       shared_random = shared)
}

repgeo_gamm_fit <- function(data, out_dir = NULL, ...) {
  s <- modifyList(repgeo_gamm_defaults, list(...))
  unknown <- setdiff(names(list(...)), names(repgeo_gamm_defaults))
  if (length(unknown)) stop("unknown settings: ", paste(unknown, collapse = ", "))
  d <- repgeo_gamm_prepare(data, s)
  f <- repgeo_gamm_formulas(s)
  started <- proc.time()[["elapsed"]]
  m0 <- repgeo_gamm_bam(f$by_level, d, 0)
  rho <- if (s$ar1) acf(residuals(m0), lag.max = 1, plot = FALSE)$acf[2] else 0
  m_by <- if (rho == 0) m0 else repgeo_gamm_bam(f$by_level, d, rho)
  m_diff <- repgeo_gamm_bam(f$difference, d, rho)
  out <- repgeo_gamm_tables(m_diff, m_by, d, s)
  shared <- out$shared_random
  out$shared_random <- NULL
  settings <- c(s, list(engine = "mgcv", mgcv_version = as.character(packageVersion("mgcv")),
                        method = "bam fREML", band = "pointwise 95% (1.96 SE)",
                        curve = "mean of the level's fitted token curves", shared_random_max = shared, rho = rho,
                        n_rows = nrow(d), n_tokens = nlevels(d[[s$token]]),
                        seconds = proc.time()[["elapsed"]] - started))
  out$settings <- data.frame(key = names(settings), value = vapply(settings, function(v) format(v, digits = 15), ""),
                             row.names = NULL)
  if (!is.null(out_dir)) {
    dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)
    for (name in names(out)) {
      write.csv(out[[name]], file.path(out_dir, paste0(name, ".csv")), row.names = FALSE)
    }
  }
  out$models <- list(by_level = m_by, difference = m_diff)
  invisible(out)
}

# Command line: Rscript gamm_mgcv.R data.csv out_dir key=value ...
if (sys.nframe() == 0L && !interactive()) {
  args <- commandArgs(trailingOnly = TRUE)
  if (length(args) < 2) stop("usage: Rscript gamm_mgcv.R data.csv out_dir [key=value ...]")
  settings <- list()
  for (kv in args[-(1:2)]) {
    key <- sub("=.*$", "", kv)
    value <- sub("^[^=]*=", "", kv)
    if (!(key %in% names(repgeo_gamm_defaults))) stop("unknown setting: ", key)
    default <- repgeo_gamm_defaults[[key]]
    settings[[key]] <- if (is.logical(default)) toupper(value) == "TRUE" else if (is.numeric(default)) as.numeric(value) else value
  }
  do.call(repgeo_gamm_fit, c(list(args[1], args[2]), settings))
}
