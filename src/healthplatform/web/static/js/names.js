// Names people read instead of Health Connect class names, and the next step after an
// upload error.

const NAMES = {
  ActiveCaloriesBurnedRecord: "Active energy",
  BasalBodyTemperatureRecord: "Basal body temperature",
  BasalMetabolicRateRecord: "Basal metabolic rate",
  BloodGlucoseRecord: "Glucose",
  BloodPressureRecord: "Blood pressure",
  BodyFatRecord: "Body fat",
  BodyTemperatureRecord: "Body temperature",
  BodyWaterMassRecord: "Body water",
  BoneMassRecord: "Bone mass",
  CyclingPedalingCadenceRecord: "Cycling cadence",
  DistanceRecord: "Distance",
  ElevationGainedRecord: "Elevation gained",
  ExerciseSessionRecord: "Exercise",
  FloorsClimbedRecord: "Floors climbed",
  HeartRateRecord: "Heart rate",
  HeartRateVariabilityRmssdRecord: "Heart rate variability (RMSSD)",
  HeightRecord: "Height",
  HydrationRecord: "Hydration",
  LeanBodyMassRecord: "Lean body mass",
  NutritionRecord: "Nutrition",
  OxygenSaturationRecord: "Blood oxygen (SpO2)",
  PowerRecord: "Power",
  RespiratoryRateRecord: "Respiratory rate",
  RestingHeartRateRecord: "Resting heart rate",
  SleepSessionRecord: "Sleep",
  SpeedRecord: "Speed",
  StepsCadenceRecord: "Step cadence",
  StepsRecord: "Steps",
  TotalCaloriesBurnedRecord: "Total energy",
  Vo2MaxRecord: "VO2 max",
  WeightRecord: "Weight",
};

/** "HeartRateVariabilityRmssdRecord" -> "Heart rate variability (RMSSD)"; unknown class
 * names are split into words ("FooBarRecord" -> "Foo bar"). */
export function recordName(type) {
  if (NAMES[type]) return NAMES[type];
  const words = type.replace(/Record$/, "").replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** What to do after an upload error, by HTTP status (0: the network). */
export function nextStep(status) {
  if (status === 415 || status === 400 || status === 422) {
    return "Next step: export the data again from Health Connect on your phone and upload the .avro files exactly as exported (see “How to get your files”).";
  }
  if (status === 413) return "Next step: this file is larger than the upload limit; export a shorter period from the phone.";
  if (status === 401) return "Next step: sign in again, then upload the file once more.";
  if (status === 429) return "Next step: wait a minute, then upload the file again.";
  if (status === 0) return "Next step: check your connection, then upload the file again.";
  if (status >= 500) return "Next step: the server could not store the file; try again in a few minutes. Nothing was stored.";
  return "Next step: upload the file again; if it keeps failing, export it again from the phone.";
}
