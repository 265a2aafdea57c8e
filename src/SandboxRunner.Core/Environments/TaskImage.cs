namespace SandboxRunner.Environments;

/// <summary>The Codex task image, which environments are layered on and tasks without one run in.</summary>
/// <param name="Init">
/// The image's own init (see <see cref="Boxes.SealedInit"/>), which becomes PID 1 instead of docker-init and starts Codex
/// so that no process the agent runs can write into its output; null when the image has none.
/// </param>
public sealed record TaskImage(string Tag, string? Init);
