import Foundation

/// Storyboards shipped inside the binary, so a fresh install can render something at once.
public enum SampleStoryboards {
    /// Sample names, for `reelfarm sample`.
    public static let names = ["cyber-lobster"]

    /// The storyboard text of sample `name`, or `nil`.
    public static func text(_ name: String) -> String? {
        switch name {
        case "cyber-lobster": return cyberLobster
        default: return nil
        }
    }

    /// "The Lobster Legion Takes Over Your Computer", stretched to a 48-second episode.
    static let cyberLobster = #"""
    # The Lobster Legion Takes Over Your Computer — reelfarm's bundled sample (48 s, 5 shots).
    # Render it:   reelfarm render sample:cyber-lobster -o lobster.mp4
    # Durations are seconds (exact: 10.5 is 21/2); `frames: N` may replace `duration`.
    title: The Lobster Legion Takes Over Your Computer
    output: {width: 320, height: 192, fps: "24", sample_rate: 48000, channels: 2}
    model: {engine: testcard, window: 97, overlap: 17, steps: 8, seed: 7, schedule: chain}
    shots:
      - id: eyes
        duration: 9
        camera: close-up
        prompt: >-
          In darkness, countless bulging black eyes snap open at once; their pupils reflect neon light,
          liquid-metal red light churning inside. The camera pushes deep into one eye, where your computer's
          desktop icons are reflected.
        sound: infrasonic hum + clicking of shells rubbing together
      - id: claws
        duration: 10.5
        camera: macro
        prompt: >-
          A Boston lobster in cyborg armour pries open the seam of a computer case with mechanically reinforced
          giant claws. The armour is engraved with runes of flowing blue data energy.
        sound: metallic, echoing crack + high-voltage electric buzzing
      - id: motherboard
        duration: 8
        camera: point of view
        transition: continue
        prompt: >-
          Looking out from inside the case: capacitors and resistors form a forest of skyscrapers; tiny lightning
          bolts crackle across the motherboard.
        sound: metallic city ambience + an eerie symphony of electric current
      - id: legion
        duration: 12
        camera: wide
        prompt: >-
          Thousands of lobster soldiers pour into the hard drive like a red tide; mechanical armour collides with
          the graphics card's backplate and sparks fly. A giant commander lobster sits on the CPU core, its shell
          projecting your screen in real time.
        sound: clashing metal + marching clicks in unison + shell war drums
        cues:
          - {at: 8.5, sound: "the commander's ultrasonic cry; every sound stops dead, leaving only the fan's roar and your heartbeat"}
      - id: surrender
        duration: 8.5
        camera: close-up
        prompt: >-
          On the monitor, countless tiny lobsters wriggle into place to spell a blood-red caption:
          "SURRENDER YOUR FILES." Then the screen cuts to black.
        sound: dead silence
        cues:
          - {at: 3, sound: "every system alarm goes off at once, ending in a single shrill beep"}
    """#
}
