namespace SandboxRunner.Boxes;

/// <summary>One of the runner's images, as <c>sandbox-runner image ls</c> shows it.</summary>
public sealed record CatalogImage(
    string Id,
    IReadOnlyList<string> Tags,
    string Role,
    string BuiltAs,
    string? Scope,
    long SizeBytes,
    DateTimeOffset Created,
    int Containers,
    int RunningContainers,
    bool Current)
{
    /// <summary>A tag, or the short id of an untagged image.</summary>
    public string Name => Tags.Count > 0 ? Tags[0] : ShortId(Id);

    public bool InUse => Containers > 0;

    internal static string ShortId(string id) => (id.StartsWith("sha256:", StringComparison.Ordinal) ? id[7..] : id)[..Math.Min(12, id.Length)];
}

/// <summary>What <c>image prune</c> is asked to do.</summary>
public sealed record ImagePruneOptions
{
    /// <summary>Tags the current config runs with (kept unless <see cref="All"/>).</summary>
    public IReadOnlySet<string> Current { get; init; } = new HashSet<string>();

    /// <summary>The repository asking (<see cref="Labels.ScopeOf"/>): images built for another repository are kept unless <see cref="All"/>.</summary>
    public string? Scope { get; init; }

    /// <summary>Every runner image no container uses, current or not, whichever repository it was built for.</summary>
    public bool All { get; init; }

    /// <summary>Decide and report, remove nothing.</summary>
    public bool DryRun { get; init; }
}

/// <summary>The decision on one image: removed (or would be, in a dry run), or kept and why.</summary>
public sealed record PruneDecision(CatalogImage Image, bool Removed, string Reason);

/// <summary>
/// The runner's images in the engine as a cache: listed and pruned by their labels
/// (<see cref="Labels.Image"/>), so nothing the runner did not build (a base image, a test double, a
/// user's image) is ever listed or removed. Removal is never forced: the engine itself refuses an image
/// a container uses, even one that started after the list was taken.
/// </summary>
public sealed class ImageCatalog(IBoxImages images)
{
    /// <summary>Every runner image, oldest first, with the containers using it; <paramref name="current"/> marks the config's own.</summary>
    public async Task<IReadOnlyList<CatalogImage>> ListAsync(IReadOnlySet<string> current, CancellationToken cancellationToken)
    {
        var listed = await images.ListAsync(LabelSelector.Of(Labels.Image), cancellationToken);
        var uses = await images.UsesAsync(cancellationToken);
        return listed
            .Where(i => i.Labels.ContainsKey(Labels.Image))
            .Select(i =>
            {
                var users = uses.Where(u => u.ImageId == i.Id).ToList();
                return new CatalogImage(
                    i.Id,
                    i.Tags.Order(StringComparer.Ordinal).ToList(),
                    i.Labels.GetValueOrDefault(Labels.Role) ?? "unknown",
                    i.Labels[Labels.Image],
                    i.Labels.GetValueOrDefault(Labels.Scope),
                    i.SizeBytes,
                    i.Created,
                    users.Count,
                    users.Count(u => u.Running),
                    i.Tags.Any(current.Contains));
            })
            .OrderBy(i => i.Created)
            .ThenBy(i => i.Id, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>
    /// Removes the runner images no container uses; by default also keeps the current config's and those
    /// built for another repository. Returns a decision for every runner image.
    /// </summary>
    public async Task<IReadOnlyList<PruneDecision>> PruneAsync(ImagePruneOptions options, CancellationToken cancellationToken)
    {
        var decisions = new List<PruneDecision>();
        foreach (var image in await ListAsync(options.Current, cancellationToken))
        {
            var keep = Keep(image, options);
            if (keep is not null)
            {
                decisions.Add(new PruneDecision(image, false, keep));
                continue;
            }

            if (options.DryRun)
            {
                decisions.Add(new PruneDecision(image, true, "would be removed (dry run)"));
                continue;
            }

            decisions.Add(await RemoveAsync(image, cancellationToken));
        }

        return decisions;
    }

    private static string? Keep(CatalogImage image, ImagePruneOptions options)
    {
        if (image.InUse)
        {
            return $"used by {image.Containers} container(s), {image.RunningContainers} running";
        }

        if (options.All)
        {
            return null;
        }

        if (image.Current)
        {
            return "the current config runs with it (--all removes it)";
        }

        return image.Scope is not null && options.Scope is not null && image.Scope != options.Scope
            ? $"built for another repository ({image.Scope}; --all removes it)"
            : null;
    }

    /// <summary>Each tag in turn (the last one deletes the image), or the id of an untagged image.</summary>
    private async Task<PruneDecision> RemoveAsync(CatalogImage image, CancellationToken cancellationToken)
    {
        IReadOnlyList<string> references = image.Tags.Count > 0 ? image.Tags : [image.Id];
        foreach (var reference in references)
        {
            var removal = await images.RemoveAsync(reference, cancellationToken);
            if (removal.Refusal is not null)
            {
                return new PruneDecision(image, false, $"the engine refused: {removal.Refusal}");
            }
        }

        return new PruneDecision(image, true, "removed");
    }
}
