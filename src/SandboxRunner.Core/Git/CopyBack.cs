namespace SandboxRunner.Git;

/// <summary>What copying a task's tree out of its container left out, and whether it stopped at a limit.</summary>
public sealed record CopyBack(IReadOnlyList<TreeFinding> Findings, string? OverLimit, string? Problem)
{
    public static CopyBack Nothing { get; } = new([], null, null);

    /// <summary>An environment task's changes under setup's artefacts that git ignores at the base, left in the container.</summary>
    public UnharvestedArtifacts? Unharvested { get; init; }
}

/// <summary>How many changed paths under setup's ignored artefacts were not harvested, and the first of them.</summary>
public sealed record UnharvestedArtifacts(int Count, IReadOnlyList<string> First)
{
    /// <summary>The note a result carries, so the work is never dropped silently.</summary>
    public string Note =>
        $"{Count} changed path(s) under the environment's setup artefacts were not harvested, because git ignores them at the base commit " +
        $"(what a task does to node_modules/ or .venv/ stays in its container): {string.Join(", ", First)}{(Count > First.Count ? ", ..." : "")}";
}
