namespace SandboxRunner.Sandbox;

/// <summary>An image in the engine: its id, tags, labels, size and when it was built.</summary>
public sealed record EngineImage(string Id, IReadOnlyList<string> Tags, IReadOnlyDictionary<string, string> Labels, long SizeBytes, DateTimeOffset Created);

/// <summary>A container (any state, anyone's) and the image it was created from.</summary>
public sealed record ContainerImageUse(string ContainerId, string ImageId, bool Running);

/// <summary>What removing one image reference did: deleted the image, only removed that tag, or was refused.</summary>
public sealed record ImageRemoval(bool Deleted, string? Refusal);

/// <summary>
/// The engine's images as a cache to inspect and trim (<see cref="ImageCatalog"/>). A seam of its own,
/// beside <see cref="IImageOperations"/>: only the image verbs need it.
/// </summary>
public interface IImageInventory
{
    /// <summary>Top-level images (no intermediate build layers) whose labels <paramref name="selector"/> matches.</summary>
    Task<IReadOnlyList<EngineImage>> ListImagesAsync(LabelSelector selector, CancellationToken cancellationToken);

    /// <summary>Every container of the engine, running or not, whoever made it.</summary>
    Task<IReadOnlyList<ContainerImageUse>> ListContainerImagesAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Removes one tag, or an untagged image by id, never forced: the engine refuses an image any container
    /// uses (then <see cref="ImageRemoval.Refusal"/> says why). A reference already gone is not an error.
    /// </summary>
    Task<ImageRemoval> RemoveImageAsync(string reference, CancellationToken cancellationToken);
}
