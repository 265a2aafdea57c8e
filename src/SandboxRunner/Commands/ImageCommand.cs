using System.Text.Json;
using Microsoft.Extensions.Logging;
using SandboxRunner.Sandbox;

namespace SandboxRunner.Host.Commands;

/// <summary><c>sandbox-runner image build|ls|prune</c>: the runner's images as a cache (<c>.ci/setup</c> uses build).</summary>
internal static class ImageCommand
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static Task<int> ExecuteAsync(CommandLine options) => Failures.GuardAsync(async () =>
    {
        using var session = new CliSession(options, LogLevel.Information);
        var runner = await session.RunnerAsync(CancellationToken.None);
        if (!options.DryRun)
        {
            await runner.EnsureImagesAsync(includeProxy: true, CancellationToken.None);
        }

        if (runner.Config.Image is not null)
        {
            await Console.Error.WriteLineAsync($"{runner.Image} is the config's \"image\": used as it is, never built");
        }

        // Bare tags, one a line, so that `docker save $(sandbox-runner image build --dry-run)` caches exactly these,
        // environments' images included (their setup is the slowest part of a fresh machine).
        var current = await runner.CurrentImagesAsync(CancellationToken.None);
        foreach (var tag in current.Tags)
        {
            await Console.Out.WriteLineAsync(tag);
        }

        foreach (var note in current.Notes)
        {
            await Console.Error.WriteLineAsync(note);
        }

        return ExitCodes.Success;
    });

    public static Task<int> ListAsync(CommandLine options) => Failures.GuardAsync(async () =>
    {
        using var session = new CliSession(options);
        var (catalog, current, _) = await OpenAsync(session);
        var images = await catalog.ListAsync(current, CancellationToken.None);
        if (options.Json)
        {
            await Console.Out.WriteLineAsync(JsonSerializer.Serialize(images, Json));
            return ExitCodes.Success;
        }

        await Console.Out.WriteLineAsync($"{"IMAGE",-52} {"ROLE",-12} {"SIZE",9} {"CREATED",-17} {"USED BY",7} CURRENT");
        foreach (var image in images)
        {
            await Console.Out.WriteLineAsync(
                $"{image.Name,-52} {image.Role,-12} {Megabytes(image.SizeBytes),9} {image.Created.UtcDateTime:yyyy-MM-dd HH:mm} {image.Containers,7} {(image.Current ? "yes" : "")}");
        }

        return ExitCodes.Success;
    });

    public static Task<int> PruneAsync(CommandLine options) => Failures.GuardAsync(async () =>
    {
        using var session = new CliSession(options);
        var (catalog, current, scope) = await OpenAsync(session);
        var decisions = await catalog.PruneAsync(new ImagePruneOptions { Current = current, Scope = scope, All = options.All, DryRun = options.DryRun }, CancellationToken.None);
        if (options.Json)
        {
            await Console.Out.WriteLineAsync(JsonSerializer.Serialize(decisions, Json));
            return ExitCodes.Success;
        }

        foreach (var decision in decisions)
        {
            var verb = decision.Removed ? (options.DryRun ? "would remove" : "removed") : "kept";
            await Console.Out.WriteLineAsync($"{verb,-12} {decision.Image.Name} ({Megabytes(decision.Image.SizeBytes)}): {decision.Reason}");
        }

        var freed = decisions.Where(d => d.Removed).Sum(d => d.Image.SizeBytes);
        await Console.Out.WriteLineAsync($"{(options.DryRun ? "would free" : "freed")} {Megabytes(freed)}");
        return ExitCodes.Success;
    });

    private static async Task<(ImageCatalog Catalog, IReadOnlySet<string> Current, string Scope)> OpenAsync(CliSession session)
    {
        var runner = await session.RunnerAsync(CancellationToken.None);
        var inventory = session.Engine as IImageInventory
            ?? throw new InvalidOperationException("this engine cannot list images");
        var current = await runner.CurrentImagesAsync(CancellationToken.None);
        return (new ImageCatalog(inventory), current.Tags.ToHashSet(StringComparer.Ordinal), Labels.ScopeOf(runner.Repository.CommonDir));
    }

    private static string Megabytes(long bytes) => $"{bytes / (1024.0 * 1024.0):0.0} MB";
}
