using Microsoft.Extensions.Logging;

namespace SandboxRunner.Host.Commands;

/// <summary><c>sandbox-runner image build</c>: what the first run would build, done by hand (<c>.ci/setup</c> uses it).</summary>
internal static class ImageCommand
{
    public static Task<int> ExecuteAsync(CommandLine options) => Failures.GuardAsync(async () =>
    {
        using var session = new CliSession(options, LogLevel.Information);
        var runner = await session.RunnerAsync(CancellationToken.None);
        await runner.EnsureImagesAsync(includeProxy: true, CancellationToken.None);
        await Console.Out.WriteLineAsync(runner.Config.Image is null ? runner.Image : $"{runner.Image} (configured)");
        await Console.Out.WriteLineAsync(runner.ProxyImage);
        return ExitCodes.Success;
    });
}
