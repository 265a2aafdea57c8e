using System.Globalization;
using System.Text;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace SandboxRunner.Benchmarks;

/// <summary>What one running task occupies of its own, in bytes (apparent sizes, as Docker reports a writable layer).</summary>
internal sealed record TaskDisk(string TaskId, long WritableLayer, long? Volumes, long HostFolder)
{
    public long Total => WritableLayer + (Volumes ?? 0) + HostFolder;
}

/// <summary>What the setup installed, measured inside the setup image.</summary>
internal sealed record InstalledTree(long ApparentBytes, long DiskBytes, long Files, long HomeBytes);

/// <summary>
/// Disk use as the engine and this machine see it: a container's writable layer (<c>docker ps -s</c>), its
/// anonymous volumes and the host's task folder, image sizes, and what <c>npm ci</c> left in the setup image.
/// </summary>
internal static class EnvironmentDisk
{
    public static async Task<IReadOnlyList<TaskDisk>> TasksAsync(
        DockerClient client, IReadOnlyDictionary<string, string> containerByTask, Func<string, string> hostFolderOf, CancellationToken cancellationToken)
    {
        var ids = containerByTask.Values.ToHashSet(StringComparer.Ordinal);
        // Size=true is what `docker ps -s` asks for: the engine walks each container's writable layer.
        var listed = await client.Containers.ListContainersAsync(new ContainersListParameters { All = true, Size = true }, cancellationToken);
        var sizes = listed.Where(c => ids.Contains(c.ID)).ToDictionary(c => c.ID, c => c.SizeRw ?? 0, StringComparer.Ordinal);
        var disks = new List<TaskDisk>();
        foreach (var (taskId, id) in containerByTask)
        {
            var inspect = await client.Containers.InspectContainerAsync(id, cancellationToken);
            long? volumes = 0;
            foreach (var mount in inspect.Mounts.Where(m => m.Type == "volume"))
            {
                // A local engine's volumes are folders on this machine; a remote one's are not measurable from here.
                volumes = await BytesAsync(mount.Source, cancellationToken) is { } bytes && volumes is { } sum ? sum + bytes : null;
            }

            disks.Add(new TaskDisk(taskId, sizes.GetValueOrDefault(id), volumes, await BytesAsync(hostFolderOf(taskId), cancellationToken) ?? 0));
        }

        return disks;
    }

    public static async Task<long> ImageSizeAsync(DockerClient client, string image, CancellationToken cancellationToken) =>
        (await client.Images.InspectImageAsync(image, cancellationToken)).Size;

    /// <summary><c>node_modules</c> and setup's HOME (npm's cache) in the setup image, by a throwaway container of it.</summary>
    public static async Task<InstalledTree> NodeModulesAsync(string setupImage, string session, CancellationToken cancellationToken)
    {
        var output = await Shell.RunAsync("docker", [
            "run", "--rm", "--label", $"{TaskOverheadBenchmark.BenchLabel}={session}", "--network", "none", setupImage, "/bin/sh", "-c",
            $"du -sb node_modules | cut -f1; du -sk node_modules | cut -f1; find node_modules -type f | wc -l; du -sb {SandboxRunner.Environments.SetupRun.Home} | cut -f1",
        ], cancellationToken);
        var numbers = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(long.Parse).ToArray();
        return numbers.Length == 4
            ? new InstalledTree(numbers[0], numbers[1] * 1024, numbers[2], numbers[3])
            : throw new InvalidOperationException($"could not measure node_modules in {setupImage}: {output}");
    }

    /// <summary>Apparent bytes under <paramref name="path"/> (<c>du -sb</c>), or null when it is not there.</summary>
    public static async Task<long?> BytesAsync(string path, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(path) && !File.Exists(path))
        {
            return null;
        }

        var output = await Shell.RunAsync("du", ["-sb", path], cancellationToken);
        return long.Parse(output.Split('\t')[0], CultureInfo.InvariantCulture);
    }

    /// <summary>Bytes as MB, or as kB below one MB so a task's few written files do not show as zero.</summary>
    public static string Megabytes(long bytes) => bytes < 1_000_000
        ? (bytes / 1e3).ToString("F1", CultureInfo.InvariantCulture) + " kB"
        : (bytes / 1e6).ToString(bytes < 10_000_000 ? "F2" : "F1", CultureInfo.InvariantCulture) + " MB";

    /// <summary>A markdown table of text cells, first column left-aligned, the rest right-aligned.</summary>
    public static string Render(string title, IReadOnlyList<string> header, IReadOnlyList<IReadOnlyList<string>> rows, IEnumerable<string> notes)
    {
        var widths = header.Select((h, i) => Math.Max(h.Length, rows.Select(r => r[i].Length).DefaultIfEmpty(0).Max())).ToArray();
        string Line(IReadOnlyList<string> cells) => string.Join(" | ", cells.Select((c, i) => i == 0 ? c.PadRight(widths[i]) : c.PadLeft(widths[i])));
        var text = new StringBuilder($"## {title}\n\n");
        text.Append(Line(header)).Append('\n').Append(string.Join("-|-", widths.Select(w => new string('-', w)))).Append('\n');
        foreach (var row in rows)
        {
            text.Append(Line(row)).Append('\n');
        }

        foreach (var note in notes)
        {
            text.Append('\n').Append(note);
        }

        return text.Append('\n').ToString();
    }
}
