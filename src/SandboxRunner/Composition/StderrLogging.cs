using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace SandboxRunner.Host.Composition;

/// <summary>
/// Logs for every verb and the server: all to stderr (stdout carries the protocol or the verb's output), one line
/// each with a UTC timestamp, so a <c>--verbose</c> log says when each step happened and lines up with a CI log.
/// </summary>
internal static class StderrLogging
{
    public const string TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";

    public static ILoggingBuilder AddStderr(this ILoggingBuilder builder, LogLevel minimum) => builder
        .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace)
        .AddSimpleConsole(o =>
        {
            o.TimestampFormat = TimestampFormat;
            o.UseUtcTimestamp = true;
            o.SingleLine = true;
            o.ColorBehavior = LoggerColorBehavior.Disabled;
        })
        .SetMinimumLevel(minimum);
}
