using System.ComponentModel;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using SandboxRunner.Boxes;
using Spectre.Console.Cli;
using SandboxRunner.Host.Composition;

namespace SandboxRunner.Host.Commands;

internal sealed class ImageBuildSettings : HostSettings
{
    [CommandOption("--dry-run")]
    [Description("only print the tags, without asking Docker")]
    public bool DryRun { get; init; }
}

internal sealed class ImagePruneSettings : JsonSettings
{
    [CommandOption("--all")]
    [Description("every unused runner image, not only stale ones of this repository")]
    public bool All { get; init; }

    [CommandOption("--dry-run")]
    [Description("say what would go; remove nothing")]
    public bool DryRun { get; init; }
}

/// <summary><c>sandbox-runner image build</c>: the runner's images as a cache (<c>.ci/setup</c> uses it).</summary>
internal sealed class ImageBuildCommand : AsyncCommand<ImageBuildSettings>
{
    public const string About = """
        Builds the task image (Dockerfile.codex, for the repository's codex_version) and the egress proxy
        image when they are missing, as the first run would; prints their tags, one a line (a configured
        "image" is printed as it is, never built). --dry-run only prints the tags, without asking Docker: a
        pipeline's image cache key, and the arguments of `docker save`. Exit 0, 2 bad config, 3 build failed.
        """;

    public override Task<int> ExecuteAsync(CommandContext context, ImageBuildSettings options, CancellationToken cancellationToken) => Failures.GuardAsync(async () =>
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
}

/// <summary><c>sandbox-runner image ls</c>: the images the runner built, found by their labels.</summary>
internal sealed class ImageListCommand : AsyncCommand<JsonSettings>
{
    public const string About = """
        Lists the images the runner built (found by their labels): tag, role, size, age, containers using
        them, and whether the repository's current config uses them. Exit 0, 3 Docker unreachable.
        """;

    public override Task<int> ExecuteAsync(CommandContext context, JsonSettings options, CancellationToken cancellationToken) => Failures.GuardAsync(async () =>
    {
        using var session = new CliSession(options);
        var (catalog, current, _) = await ImageCatalogs.OpenAsync(session);
        var images = await catalog.ListAsync(current, CancellationToken.None);
        if (options.Json)
        {
            await Console.Out.WriteLineAsync(JsonSerializer.Serialize(images, ImageCatalogs.Json));
            return ExitCodes.Success;
        }

        await Console.Out.WriteLineAsync($"{"IMAGE",-52} {"ROLE",-12} {"SIZE",9} {"CREATED",-17} {"USED BY",7} CURRENT");
        foreach (var image in images)
        {
            await Console.Out.WriteLineAsync(
                $"{image.Name,-52} {image.Role,-12} {ImageCatalogs.Megabytes(image.SizeBytes),9} {image.Created.UtcDateTime:yyyy-MM-dd HH:mm} {image.Containers,7} {(image.Current ? "yes" : "")}");
        }

        return ExitCodes.Success;
    });
}

/// <summary><c>sandbox-runner image prune</c>: removes runner images no container uses.</summary>
internal sealed class ImagePruneCommand : AsyncCommand<ImagePruneSettings>
{
    public const string About = """
        Removes runner images no container uses, keeping the current config's and other repositories'
        (--all removes every unused runner image). Never touches an image the runner did not build.
        --dry-run says what would go. Exit 0, 3 Docker unreachable.
        """;

    public override Task<int> ExecuteAsync(CommandContext context, ImagePruneSettings options, CancellationToken cancellationToken) => Failures.GuardAsync(async () =>
    {
        using var session = new CliSession(options);
        var (catalog, current, scope) = await ImageCatalogs.OpenAsync(session);
        var decisions = await catalog.PruneAsync(new ImagePruneOptions { Current = current, Scope = scope, All = options.All, DryRun = options.DryRun }, CancellationToken.None);
        if (options.Json)
        {
            await Console.Out.WriteLineAsync(JsonSerializer.Serialize(decisions, ImageCatalogs.Json));
            return ExitCodes.Success;
        }

        foreach (var decision in decisions)
        {
            var verb = decision.Removed ? (options.DryRun ? "would remove" : "removed") : "kept";
            await Console.Out.WriteLineAsync($"{verb,-12} {decision.Image.Name} ({ImageCatalogs.Megabytes(decision.Image.SizeBytes)}): {decision.Reason}");
        }

        var freed = decisions.Where(d => d.Removed).Sum(d => d.Image.SizeBytes);
        await Console.Out.WriteLineAsync($"{(options.DryRun ? "would free" : "freed")} {ImageCatalogs.Megabytes(freed)}");
        return ExitCodes.Success;
    });
}

/// <summary>What <c>image ls</c> and <c>image prune</c> share: the catalog of the runner's images and how they print.</summary>
internal static class ImageCatalogs
{
    public static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static async Task<(ImageCatalog Catalog, IReadOnlySet<string> Current, string Scope)> OpenAsync(CliSession session)
    {
        var runner = await session.RunnerAsync(CancellationToken.None);
        var current = await runner.CurrentImagesAsync(CancellationToken.None);
        return (new ImageCatalog(runner.Backend.Images), current.Tags.ToHashSet(StringComparer.Ordinal), Labels.ScopeOf(runner.Repository.CommonDir));
    }

    public static string Megabytes(long bytes) => $"{bytes / (1024.0 * 1024.0):0.0} MB";
}
