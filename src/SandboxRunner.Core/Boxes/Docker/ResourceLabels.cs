namespace SandboxRunner.Boxes.Docker;

/// <summary>
/// The labels every container, network and image the backend creates carries besides the runner's own: those an
/// embedding host asks for (a Testcontainers session's, so its resource reaper finds them). The runner's own labels
/// win over them, so no embedder can take a resource out of the runner's clean-up.
/// </summary>
internal sealed class ResourceLabels(IReadOnlyDictionary<string, string>? extra)
{
    private readonly Dictionary<string, string> _extra = extra is null ? [] : new(extra, StringComparer.Ordinal);

    public Dictionary<string, string> Stamp(IReadOnlyDictionary<string, string> own)
    {
        var merged = new Dictionary<string, string>(_extra, StringComparer.Ordinal);
        foreach (var (key, value) in own)
        {
            merged[key] = value;
        }

        return merged;
    }

    /// <summary>As <see cref="Stamp"/>, with the owner label that lets the orphan sweep tell a live process's resources from a dead one's.</summary>
    public Dictionary<string, string> StampOwned(IReadOnlyDictionary<string, string> own)
    {
        var merged = Stamp(own);
        merged[Labels.Owner] = Labels.CurrentOwner;
        return merged;
    }
}
