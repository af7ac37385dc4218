# Snakemake script (rule audio_gamm_mgcv): mgcv GAMMs of every layer of one analysis, through
# lib/repgeo/stats/gamm_mgcv.R; writes the engine's CSV tables into a temporary folder that is
# renamed to the output folder only when every layer has been fitted.
log_path <- snakemake@log[[1]]
unlink(log_path)  # Snakemake deleted it already; never truncate a file an attempt name holds
log <- file(log_path, open = "wt")
# As repgeo.runtime.job: the log also lives as <log>.N until the job succeeds, so that a rerun
# (which starts with Snakemake deleting <log>) keeps the log of a failed or killed attempt.
n <- 1
while (file.exists(paste0(log_path, ".", n))) n <- n + 1
attempt_log <- paste0(log_path, ".", n)
if (!file.link(log_path, attempt_log)) attempt_log <- NULL
sink(log)
sink(log, type = "message")
source(snakemake@params[["library"]])

s <- snakemake@params[["settings"]]
path <- snakemake@input[["data"]]
header <- names(read.csv(path, nrows = 1))
factor <- setdiff(header, c("layer", "token", "time", "value"))
if (length(factor) != 1) stop(path, " must have the columns layer, token, time, value and one factor column")
data <- read.csv(path, colClasses = setNames(rep("character", 3), c("layer", "token", factor)))
reference <- if (is.null(s$reference)) data[[factor]][1] else s$reference
tables <- list()
for (layer in unique(data$layer)) {
  message(format(Sys.time()), " ", layer, ": mgcv GAMM of ", sum(data$layer == layer), " rows")
  fit <- repgeo_gamm_fit(data[data$layer == layer, setdiff(names(data), "layer")], NULL,
                         factor = factor, reference = reference, k = as.integer(s$k),
                         random_smooths = isTRUE(s$random_smooths), ar1 = isTRUE(s$ar1), grid = as.integer(s$grid))
  # Wall times stay in the log and the benchmark file: the tables are exactly reproducible.
  fit$settings <- fit$settings[!grepl("seconds$", fit$settings$key), ]
  for (name in c("parametric", "smooths", "curves", "differences", "settings")) {
    tables[[name]] <- rbind(tables[[name]], cbind(data.frame(layer = layer), fit[[name]]))
  }
  rho <- fit$settings$value[fit$settings$key == "rho"]
  message(format(Sys.time()), " ", layer, ": done, rho ", rho)
}
out <- snakemake@output[["tables"]]
tmp <- paste0(dirname(out), "/.", basename(out), ".tmp")
unlink(tmp, recursive = TRUE)
dir.create(tmp, recursive = TRUE)
for (name in names(tables)) write.csv(tables[[name]], file.path(tmp, paste0(name, ".csv")), row.names = FALSE)
unlink(out, recursive = TRUE)
if (!file.rename(tmp, out)) stop("could not rename ", tmp, " to ", out)
if (!is.null(attempt_log)) unlink(attempt_log)
